package report

import (
	"cmp"
	"fmt"
	"image/color"
	"maps"
	"slices"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }

// WritePlot draws the open-loop runs' latency percentiles against offered
// rate, one line per percentile and journal, to path (.svg or .png). It
// returns false when there is no open-loop run to draw.
func WritePlot(path string, runs []Run) (bool, error) {
	byBackend := map[string][]Run{}
	for _, r := range runs {
		if r.Mode == ModeOpen && r.Requests > 0 {
			byBackend[r.Backend] = append(byBackend[r.Backend], r)
		}
	}
	if len(byBackend) == 0 {
		return false, nil
	}
	p := plot.New()
	p.Title.Text = "switchd latency against offered rate (open loop)"
	p.X.Label.Text = "offered rate (payment flows/s)"
	p.Y.Label.Text = "latency (ms, log scale)"
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	p.Add(plotter.NewGrid())
	p.Legend.Top = true
	p.Legend.Left = true

	percentiles := []struct {
		name string
		get  func(Latency) float64
		clr  color.RGBA
	}{
		{"p50", func(l Latency) float64 { return l.P50 }, color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}},
		{"p90", func(l Latency) float64 { return l.P90 }, color.RGBA{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff}},
		{"p99", func(l Latency) float64 { return l.P99 }, color.RGBA{R: 0xff, G: 0x7f, B: 0x0e, A: 0xff}},
		{"p99.9", func(l Latency) float64 { return l.P999 }, color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff}},
	}
	for bi, backend := range sortedKeys(byBackend) {
		rs := byBackend[backend]
		slices.SortFunc(rs, func(a, b Run) int { return cmp.Compare(a.OfferedRate, b.OfferedRate) })
		for _, pc := range percentiles {
			pts := make(plotter.XYs, 0, len(rs))
			for _, r := range rs {
				// A log scale cannot show 0; a sub-10 µs figure is floored.
				pts = append(pts, plotter.XY{X: r.OfferedRate, Y: max(pc.get(r.Latency), 0.01)})
			}
			line, dots, err := plotter.NewLinePoints(pts)
			if err != nil {
				return false, fmt.Errorf("plotting %s %s: %w", backend, pc.name, err)
			}
			line.Color, dots.Color = pc.clr, pc.clr
			if bi > 0 {
				line.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
				dots.Shape = draw.BoxGlyph{}
			}
			p.Add(line, dots)
			label := pc.name
			if backend != "" {
				label += " " + backend
			}
			p.Legend.Add(label, line, dots)
		}
	}
	target, err := plotter.NewLine(plotter.XYs{{X: p.X.Min, Y: TargetOpenP99Ms}, {X: p.X.Max, Y: TargetOpenP99Ms}})
	if err == nil {
		target.Color = color.Gray{Y: 0x80}
		target.Dashes = []vg.Length{vg.Points(2), vg.Points(2)}
		p.Add(target)
		p.Legend.Add(fmt.Sprintf("p99 target %d ms", TargetOpenP99Ms), target)
	}
	if err := p.Save(8*vg.Inch, 5*vg.Inch, path); err != nil {
		return false, fmt.Errorf("saving plot %s: %w", path, err)
	}
	return true, nil
}
