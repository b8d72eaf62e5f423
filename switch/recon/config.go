package recon

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/spf13/viper"

	"github.com/acquirer/h2hswitch/specs/calendar"
	"github.com/acquirer/h2hswitch/switch/journal"
)

// FileConfig is what reconciliation reads from the switch's YAML file: the
// journal and bank sections switchd uses, plus its own "recon" and
// "settlement" sections (to be added to switch/config's schema when the
// lead merges them; until then switchctl reads them itself). Every key can
// be overridden from the environment as SWITCH_<KEY_PATH>.
type FileConfig struct {
	Journal struct {
		Driver string `mapstructure:"driver"`
		DSN    string `mapstructure:"dsn"`
		Schema string `mapstructure:"schema"`
	} `mapstructure:"journal"`
	Banks map[string]struct {
		Dialect string `mapstructure:"dialect"`
	} `mapstructure:"banks"`
	Recon struct {
		Store        StoreConfig                `mapstructure:"store"`
		LookbackDays int                        `mapstructure:"lookback_days"`
		MaxFileBytes int64                      `mapstructure:"max_file_bytes"`
		MaxBreaks    int                        `mapstructure:"max_breaks"`
		Calendars    map[string]calendar.Config `mapstructure:"calendars"`
	} `mapstructure:"recon"`
	Settlement SettlementConfig `mapstructure:"settlement"`
}

// LoadFileConfig reads path (YAML) with SWITCH_* environment overrides.
func LoadFileConfig(path string) (*FileConfig, error) {
	v := viper.New()
	v.SetConfigFile(path)
	v.SetConfigType("yaml")
	v.SetEnvPrefix("SWITCH")
	v.SetEnvKeyReplacer(strings.NewReplacer(".", "_"))
	v.AutomaticEnv()
	for _, k := range []string{"journal.driver", "journal.dsn", "journal.schema", "recon.store.driver", "recon.store.dsn",
		"recon.store.schema", "recon.lookback_days", "recon.max_file_bytes", "recon.max_breaks", "settlement.default_rate",
		"settlement.currency"} {
		_ = v.BindEnv(k)
	}
	if err := v.ReadInConfig(); err != nil {
		return nil, fmt.Errorf("reading configuration %s: %w", path, err)
	}
	var fc FileConfig
	if err := v.Unmarshal(&fc); err != nil {
		return nil, fmt.Errorf("configuration %s: %w", path, err)
	}
	return &fc, nil
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

// ServiceConfig builds the Service configuration: each bank's clearing
// format from its dialect and its calendar (the contract's cut-off unless
// recon.calendars.<bank> says otherwise, holidays from there).
func (fc *FileConfig) ServiceConfig() (Config, error) {
	cfg := Config{
		Banks: map[string]BankConfig{}, LookbackDays: fc.Recon.LookbackDays, MaxFileBytes: fc.Recon.MaxFileBytes,
		MaxBreaks: fc.Recon.MaxBreaks, Settlement: fc.Settlement,
	}
	for name, b := range fc.Banks {
		var (
			f  Format
			cc calendar.Config
		)
		switch b.Dialect {
		case "h2h87-ascii":
			f, cc = FormatA, calendar.BankA()
		case "h2h87-binary":
			f, cc = FormatB, calendar.BankB()
		default:
			return Config{}, fmt.Errorf("banks.%s.dialect: %q has no known clearing file format", name, b.Dialect)
		}
		if over, ok := fc.Recon.Calendars[name]; ok {
			if over.TimeZone != "" {
				cc.TimeZone = over.TimeZone
			}
			if over.CutOff != "" {
				cc.CutOff = over.CutOff
			}
			cc.Holidays, cc.WorkingDays = over.Holidays, over.WorkingDays
		}
		cal, err := calendar.New(cc)
		if err != nil {
			return Config{}, fmt.Errorf("recon.calendars.%s: %w", name, err)
		}
		cfg.Banks[name] = BankConfig{Name: name, Format: f, Calendar: cal}
	}
	return cfg, nil
}
