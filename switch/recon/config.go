package recon

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/viper"

	"github.com/acquirer/h2hswitch/specs/calendar"
	"github.com/acquirer/h2hswitch/switch/journal"
)

// DefaultMaxUploadBytes bounds a clearing file uploaded to the operator
// endpoint (recon.max_upload_bytes): a bank's daily file is a few hundred
// MiB at most; larger files go through switchctl.
const DefaultMaxUploadBytes = 512 << 20

// ReconConfig is the "recon" section of the switch's configuration (the
// same type is switch/config's schema for it).
type ReconConfig struct {
	// Store is where runs and items are kept (default: recon.db next to a
	// SQLite journal, schema "recon" of a PostgreSQL journal's database).
	Store StoreConfig `mapstructure:"store" yaml:"store"`
	// LookbackDays: journal payments indexed before the settlement day
	// (default 35, at most 400).
	LookbackDays int `mapstructure:"lookback_days" yaml:"lookback_days"`
	// MaxFileBytes bounds a clearing file (default 2 GiB).
	MaxFileBytes int64 `mapstructure:"max_file_bytes" yaml:"max_file_bytes"`
	// MaxUploadBytes bounds a file uploaded to POST /v1/admin/recon
	// (default 512 MiB, at most MaxFileBytes).
	MaxUploadBytes int64 `mapstructure:"max_upload_bytes" yaml:"max_upload_bytes"`
	// MaxBreaks bounds the breaks a run returns (all are stored).
	MaxBreaks int `mapstructure:"max_breaks" yaml:"max_breaks"`
	// Calendars override a bank's clearing calendar (time zone, cut-off,
	// holidays, working days) by bank name.
	Calendars map[string]calendar.Config `mapstructure:"calendars" yaml:"calendars"`
}

// JournalSection is the part of the "journal" section reconciliation reads.
type JournalSection struct {
	Driver string `mapstructure:"driver"`
	DSN    string `mapstructure:"dsn"`
	Schema string `mapstructure:"schema"`
}

// BankSection is the part of a "banks.<name>" section reconciliation reads.
type BankSection struct {
	Dialect string `mapstructure:"dialect"`
}

// FileConfig is what reconciliation reads from the switch's YAML file: the
// journal and bank sections switchd uses, plus the "recon" and
// "settlement" sections (also part of switch/config's schema, which
// validates them for switchd). Every key can be overridden from the
// environment as SWITCH_<KEY_PATH>.
type FileConfig struct {
	Journal    JournalSection         `mapstructure:"journal"`
	Banks      map[string]BankSection `mapstructure:"banks"`
	Recon      ReconConfig            `mapstructure:"recon"`
	Settlement SettlementConfig       `mapstructure:"settlement"`
}

// LoadFileConfig reads path (YAML) with SWITCH_* environment overrides and
// validates the reconciliation sections.
func LoadFileConfig(path string) (*FileConfig, error) {
	v := viper.New()
	v.SetConfigFile(path)
	v.SetConfigType("yaml")
	v.SetEnvPrefix("SWITCH")
	v.SetEnvKeyReplacer(strings.NewReplacer(".", "_"))
	v.AutomaticEnv()
	for _, k := range []string{"journal.driver", "journal.dsn", "journal.schema", "recon.store.driver", "recon.store.dsn",
		"recon.store.schema", "recon.lookback_days", "recon.max_file_bytes", "recon.max_upload_bytes", "recon.max_breaks",
		"settlement.default_rate", "settlement.currency"} {
		_ = v.BindEnv(k)
	}
	if err := v.ReadInConfig(); err != nil {
		return nil, fmt.Errorf("reading configuration %s: %w", path, err)
	}
	var fc FileConfig
	if err := v.Unmarshal(&fc); err != nil {
		return nil, fmt.Errorf("configuration %s: %w", path, err)
	}
	dialects := map[string]string{}
	for name, b := range fc.Banks {
		dialects[name] = b.Dialect
	}
	if p := Problems(fc.Recon, fc.Settlement, dialects); len(p) > 0 {
		return nil, fmt.Errorf("configuration %s: %s", path, strings.Join(p, "; "))
	}
	return &fc, nil
}

// Problems validates the "recon" and "settlement" sections against the
// configured banks (name → dialect); each problem names its key.
func Problems(rc ReconConfig, sc SettlementConfig, banks map[string]string) []string {
	var out []string
	switch rc.Store.Driver {
	case "", "sqlite", "postgres":
	default:
		out = append(out, fmt.Sprintf("recon.store.driver: %q is not sqlite or postgres", rc.Store.Driver))
	}
	if rc.Store.Driver == "postgres" && rc.Store.DSN == "" {
		out = append(out, "recon.store.dsn: required with the postgres driver")
	}
	if rc.Store.Schema != "" && !validIdent(rc.Store.Schema) {
		out = append(out, fmt.Sprintf("recon.store.schema: %q is not a plain lower-case identifier", rc.Store.Schema))
	}
	if rc.LookbackDays < 0 || rc.LookbackDays > 400 {
		out = append(out, "recon.lookback_days: want 1..400 (0 = the default 35)")
	}
	if rc.MaxFileBytes < 0 {
		out = append(out, "recon.max_file_bytes: must not be negative (0 = the default 2 GiB)")
	}
	maxFile := rc.MaxFileBytes
	if maxFile == 0 {
		maxFile = DefaultMaxFileBytes
	}
	if rc.MaxUploadBytes < 0 || rc.MaxUploadBytes > maxFile {
		out = append(out, fmt.Sprintf("recon.max_upload_bytes: want 0..%d (recon.max_file_bytes; 0 = the default 512 MiB)", maxFile))
	}
	if rc.MaxBreaks < 0 {
		out = append(out, "recon.max_breaks: must not be negative (0 = the default 1000)")
	}
	for _, name := range sortedNames(rc.Calendars) {
		if _, ok := banks[name]; !ok {
			out = append(out, fmt.Sprintf("recon.calendars.%s: no such bank in banks", name))
			continue
		}
		if _, err := bankCalendar(banks[name], rc.Calendars[name], true); err != nil {
			out = append(out, fmt.Sprintf("recon.calendars.%s: %v", name, err))
		}
	}
	if _, err := newRateTable(sc); err != nil {
		out = append(out, err.Error())
	}
	if sc.Currency != "" && (len(sc.Currency) != 3 || strings.ToUpper(sc.Currency) != sc.Currency) {
		out = append(out, fmt.Sprintf("settlement.currency: %q is not an ISO 4217 alpha-3 code in upper case", sc.Currency))
	}
	if _, err := payoutCalendar(sc); err != nil {
		out = append(out, fmt.Sprintf("settlement.calendar: %v", err))
	}
	return out
}

func sortedNames[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// JournalConfig returns the journal's connection settings.
func (fc *FileConfig) JournalConfig() journal.Config {
	return journal.Config{Driver: fc.Journal.Driver, DSN: fc.Journal.DSN, Schema: fc.Journal.Schema}
}

// StoreConfig returns the recon store's settings. Default: SQLite file
// recon.db next to a SQLite journal; schema "recon" of a PostgreSQL
// journal's database.
func (fc *FileConfig) StoreConfig() StoreConfig {
	sc := fc.Recon.Store
	if sc.Driver == "" && sc.DSN == "" {
		switch fc.Journal.Driver {
		case journal.DriverPostgres:
			sc.Driver, sc.DSN = "postgres", fc.Journal.DSN
		default:
			dsn := fc.Journal.DSN
			if dsn == "" {
				dsn = journal.DefaultSQLitePath
			}
			sc.Driver, sc.DSN = "sqlite", filepath.Join(filepath.Dir(dsn), "recon.db")
		}
	}
	return sc
}

// MaxUploadBytes is the upload bound of the operator endpoint.
func (fc *FileConfig) MaxUploadBytes() int64 {
	if fc.Recon.MaxUploadBytes > 0 {
		return fc.Recon.MaxUploadBytes
	}
	return DefaultMaxUploadBytes
}

// bankCalendar is a bank's clearing calendar: the contract's cut-off for
// its dialect unless over says otherwise, holidays from over.
func bankCalendar(dialect string, over calendar.Config, given bool) (*calendar.Calendar, error) {
	var cc calendar.Config
	switch dialect {
	case "h2h87-ascii":
		cc = calendar.BankA()
	case "h2h87-binary":
		cc = calendar.BankB()
	default:
		return nil, fmt.Errorf("dialect %q has no known clearing file format", dialect)
	}
	if given {
		if over.TimeZone != "" {
			cc.TimeZone = over.TimeZone
		}
		if over.CutOff != "" {
			cc.CutOff = over.CutOff
		}
		cc.Holidays, cc.WorkingDays = over.Holidays, over.WorkingDays
	}
	return calendar.New(cc)
}

// payoutCalendar is the processor's payout calendar (default Almaty,
// weekends off).
func payoutCalendar(sc SettlementConfig) (*calendar.Calendar, error) {
	pc := sc.Calendar
	if pc.CutOff == "" {
		pc = calendar.BankA()
		if sc.Calendar.TimeZone != "" {
			pc.TimeZone = sc.Calendar.TimeZone
		}
		pc.Holidays, pc.WorkingDays = sc.Calendar.Holidays, sc.Calendar.WorkingDays
	}
	return calendar.New(pc)
}

// ServiceConfig builds the Service configuration: each bank's clearing
// format from its dialect and its calendar (the contract's cut-off unless
// recon.calendars.<bank> says otherwise, holidays from there).
func (fc *FileConfig) ServiceConfig() (Config, error) {
	cfg := Config{
		Banks: map[string]BankConfig{}, LookbackDays: fc.Recon.LookbackDays, MaxFileBytes: fc.Recon.MaxFileBytes,
		MaxBreaks: fc.Recon.MaxBreaks, Settlement: fc.Settlement,
	}
	for name, b := range fc.Banks {
		f := FormatA
		if b.Dialect == "h2h87-binary" {
			f = FormatB
		}
		over, given := fc.Recon.Calendars[name]
		cal, err := bankCalendar(b.Dialect, over, given)
		if err != nil {
			if given {
				return Config{}, fmt.Errorf("recon.calendars.%s: %w", name, err)
			}
			return Config{}, fmt.Errorf("banks.%s.dialect: %w", name, err)
		}
		cfg.Banks[name] = BankConfig{Name: name, Format: f, Calendar: cal}
	}
	return cfg, nil
}

// Opened is a Service with what it opened.
type Opened struct {
	Svc    *Service
	closer []func() error
}

// Close releases the store and the journal reader.
func (o *Opened) Close() error {
	var errs []error
	for i := len(o.closer) - 1; i >= 0; i-- {
		errs = append(errs, o.closer[i]())
	}
	return errors.Join(errs...)
}

// Open builds the Service of a configuration: the journal read through the
// read-only SQLSource, the reconciliation store, and states (may be nil)
// to write the payments' states back to the journal. switchctl and switchd
// both use it, so a file reconciled through either gives the same result.
func Open(ctx context.Context, fc *FileConfig, states StateWriter) (*Opened, error) {
	cfg, err := fc.ServiceConfig()
	if err != nil {
		return nil, err
	}
	cfg.States = states
	o := &Opened{}
	src, err := OpenSQLSource(ctx, fc.JournalConfig())
	if err != nil {
		return nil, err
	}
	o.closer = append(o.closer, src.Close)
	st, err := OpenStore(ctx, fc.StoreConfig())
	if err != nil {
		_ = o.Close()
		return nil, err
	}
	o.closer = append(o.closer, st.Close)
	if o.Svc, err = NewService(cfg, src, st); err != nil {
		_ = o.Close()
		return nil, err
	}
	return o, nil
}

// OpenStandalone is Open for a process that has no journal store of its
// own (switchctl): it opens the journal to write the payments' states
// back, and refuses a SQLite journal that does not exist rather than
// creating an empty one.
func OpenStandalone(ctx context.Context, fc *FileConfig) (*Opened, error) {
	jcfg := fc.JournalConfig()
	if jcfg.Driver == "" || jcfg.Driver == journal.DriverSQLite {
		path := jcfg.DSN
		if path == "" {
			path = journal.DefaultSQLitePath
		}
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("recon: the journal %s: %w", path, err)
		}
	}
	js, err := journal.Open(ctx, jcfg)
	if err != nil {
		return nil, fmt.Errorf("recon: opening the journal to record reconciliation states: %w", err)
	}
	o, err := Open(ctx, fc, js)
	if err != nil {
		_ = js.Close()
		return nil, err
	}
	o.closer = append([]func() error{js.Close}, o.closer...)
	return o, nil
}
