package main

import (
	"os"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/acquirer/h2hswitch/switch/config"
)

// newLogger builds the process logger: JSON, or a console writer when
// stdout is a terminal (log.format auto).
func newLogger(cfg config.Log) zerolog.Logger {
	lvl, err := zerolog.ParseLevel(cfg.Level)
	if err != nil {
		lvl = zerolog.InfoLevel
	}
	var w zerolog.Logger
	if cfg.Format == "console" || (cfg.Format == "auto" && isTerminal(os.Stdout)) {
		w = zerolog.New(zerolog.ConsoleWriter{Out: os.Stdout, TimeFormat: time.RFC3339})
	} else {
		w = zerolog.New(os.Stdout)
	}
	return w.Level(lvl).With().Timestamp().Str("service", "switchd").Logger()
}

func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0 && !strings.EqualFold(os.Getenv("TERM"), "dumb")
}
