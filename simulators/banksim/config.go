package banksim

import (
	"crypto/tls"
	"fmt"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/acquirer/h2hswitch/simulators/settlement"
	"github.com/acquirer/h2hswitch/simulators/wire"
	"github.com/acquirer/h2hswitch/specs/calendar"
)

// Config configures one simulated bank host. Zero values take the defaults
// of simulator.md and the bank's interface document; Validate names the key
// of any bad value.
type Config struct {
	// Dialect is h2h87-ascii (Bank A) or h2h87-binary (Bank B).
	Dialect string `yaml:"dialect"`
	// Listen is the host's TCP address; 127.0.0.1:0 picks a free port.
	Listen string `yaml:"listen"`
	// AcquirerID, when set, is the only DE32 accepted (others get 03) and
	// the acquirer ID in Bank B's clearing header. Empty accepts any DE32.
	AcquirerID string `yaml:"acquirer_id"`
	// LateDelay is how late a rule-98 approval is answered (default 3s).
	LateDelay time.Duration `yaml:"late_delay"`
	// EchoInterval is how often the host sends 0800 301 on each signed-on
	// connection. Default 20s for Bank B, 0 (off) for Bank A; a negative
	// value turns it off.
	EchoInterval time.Duration `yaml:"echo_interval"`
	// EchoTimeout is how long the host waits for the 0810 before it closes
	// the connection (default 5s).
	EchoTimeout time.Duration `yaml:"echo_timeout"`
	// MaxConnections caps concurrent connections (0: no cap). The banks'
	// documents allow 4 (A) and 8 (B) per processor; benchmarks use more.
	MaxConnections int `yaml:"max_connections"`
	// AmountRules overrides the outcome for the last two digits of DE4:
	// "51": "05" answers 05; "approve", "close", "late" and "silent" select
	// the special outcomes of rules 00/97/98/99.
	AmountRules map[string]string `yaml:"amount_rules"`
	// CardRules maps a test PAN to the code it always gets. Default:
	// 4000000000000036 -> 05. Only test PANs belong here.
	CardRules map[string]string `yaml:"card_rules"`
	// AuthCodeSeed seeds authorization codes and network transaction IDs.
	AuthCodeSeed uint64 `yaml:"auth_code_seed"`
	// Fees are the bank's clearing fees.
	Fees settlement.Fees `yaml:"fees"`
	// Calendar is the bank's time zone, cut-off and holidays. Defaults:
	// Asia/Almaty, 23:00 (A) or 21:00 (B).
	Calendar calendar.Config `yaml:"calendar"`

	// TLSCertFile and TLSKeyFile, when both set, make the host speak TLS
	// (1.2 or later) as the banks do in production; test links are plain TCP.
	TLSCertFile string `yaml:"tls_cert_file"`
	TLSKeyFile  string `yaml:"tls_key_file"`
	// TLS, when set, is used instead of the files (tests build it in memory).
	TLS *tls.Config `yaml:"-"`

	// Logger receives the host's log; the zero value discards.
	Logger zerolog.Logger `yaml:"-"`
	// Now is the clock (default time.Now); tests pin it.
	Now func() time.Time `yaml:"-"`
}

// Defaults for Config.
const (
	DefaultLateDelay       = 3 * time.Second
	DefaultEchoIntervalB   = 20 * time.Second
	DefaultEchoTimeout     = 5 * time.Second
	DeclineTestPAN         = "4000000000000036"
	defaultListenAddress   = "127.0.0.1:0"
	maxConfiguredRuleCount = 100
)

// withDefaults returns cfg with zero values replaced by the defaults.
func (cfg Config) withDefaults() Config {
	if cfg.Listen == "" {
		cfg.Listen = defaultListenAddress
	}
	if cfg.LateDelay == 0 {
		cfg.LateDelay = DefaultLateDelay
	}
	if cfg.EchoInterval == 0 && cfg.Dialect == wire.DialectBinary {
		cfg.EchoInterval = DefaultEchoIntervalB
	}
	if cfg.EchoInterval < 0 {
		cfg.EchoInterval = 0
	}
	if cfg.EchoTimeout == 0 {
		cfg.EchoTimeout = DefaultEchoTimeout
	}
	if cfg.CardRules == nil {
		cfg.CardRules = map[string]string{DeclineTestPAN: "05"}
	}
	if cfg.Calendar.CutOff == "" {
		if cfg.Dialect == wire.DialectBinary {
			cfg.Calendar.CutOff = calendar.BankB().CutOff
		} else {
			cfg.Calendar.CutOff = calendar.BankA().CutOff
		}
	}
	if cfg.Calendar.TimeZone == "" {
		cfg.Calendar.TimeZone = calendar.DefaultTimeZone
	}
	cfg.Fees = cfg.Fees.WithDefaults(cfg.Dialect == wire.DialectBinary)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return cfg
}

// Validate checks a configuration (after defaults) and names the bad key.
func (cfg Config) Validate() error {
	if _, err := wire.NewCodec(cfg.Dialect); err != nil {
		return fmt.Errorf("dialect: %w", err)
	}
	if cfg.LateDelay < 0 {
		return fmt.Errorf("late_delay: must not be negative, got %s", cfg.LateDelay)
	}
	if cfg.EchoTimeout < 0 {
		return fmt.Errorf("echo_timeout: must not be negative, got %s", cfg.EchoTimeout)
	}
	if cfg.MaxConnections < 0 {
		return fmt.Errorf("max_connections: must not be negative, got %d", cfg.MaxConnections)
	}
	if cfg.AcquirerID != "" && (len(cfg.AcquirerID) > 11 || strings.Trim(cfg.AcquirerID, "0123456789") != "") {
		return fmt.Errorf("acquirer_id: want 1-11 digits, got %q", cfg.AcquirerID)
	}
	if len(cfg.AmountRules) > maxConfiguredRuleCount {
		return fmt.Errorf("amount_rules: at most %d entries", maxConfiguredRuleCount)
	}
	if _, err := buildRules(cfg.Dialect == wire.DialectBinary, cfg.AmountRules); err != nil {
		return fmt.Errorf("amount_rules: %w", err)
	}
	for pan, code := range cfg.CardRules {
		if len(pan) < 12 || len(pan) > 19 || strings.Trim(pan, "0123456789") != "" {
			return fmt.Errorf("card_rules: key %s: want a 12-19 digit test PAN", wire.MaskPAN([]byte(pan)))
		}
		if !validCode(code) {
			return fmt.Errorf("card_rules: %s: response code %q is not 2 alphanumerics", wire.MaskPAN([]byte(pan)), code)
		}
	}
	if (cfg.TLSCertFile == "") != (cfg.TLSKeyFile == "") {
		return fmt.Errorf("tls_cert_file, tls_key_file: set both or neither")
	}
	if err := cfg.Fees.Validate(); err != nil {
		return fmt.Errorf("fees: %w", err)
	}
	if _, err := calendar.New(cfg.Calendar); err != nil {
		return err
	}
	return nil
}

func validCode(c string) bool {
	if len(c) != 2 {
		return false
	}
	for i := 0; i < 2; i++ {
		ch := c[i]
		if !(ch >= '0' && ch <= '9' || ch >= 'A' && ch <= 'Z') {
			return false
		}
	}
	return true
}
