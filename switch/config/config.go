// Package config loads and validates the switch's configuration: a YAML file
// read with viper in which every key can be overridden from the environment
// as SWITCH_ + the key path upper-cased with "_" for "." (SWITCH_JOURNAL_DSN,
// SWITCH_BANKS_ALFA_ADDR, SWITCH_API_CLIENTS_GATEWAY_TOKEN). Unknown keys are
// rejected, and validation reports every problem at once, each naming its key.
package config

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/viper"

	"github.com/acquirer/h2hswitch/switch/breaker"
	"github.com/acquirer/h2hswitch/switch/journal"
	"github.com/acquirer/h2hswitch/switch/recon"
	"github.com/acquirer/h2hswitch/switch/standin"
)

// EnvPrefix is the prefix of every environment override.
const EnvPrefix = "SWITCH"

// Roles of upstream API clients.
const (
	RoleGateway  = "gateway"
	RoleOperator = "operator"
)

// Journal drivers.
const (
	DriverSQLite   = "sqlite"
	DriverPostgres = "postgres"
)

// MaxBodyLimit is the contract's request body limit (64 KiB); the
// configuration may lower it but never raise it.
const MaxBodyLimit = 64 << 10

// Config is the whole switch configuration.
type Config struct {
	API     API             `mapstructure:"api"`
	Metrics Metrics         `mapstructure:"metrics"`
	Log     Log             `mapstructure:"log"`
	Journal Journal         `mapstructure:"journal"`
	Routing Routing         `mapstructure:"routing"`
	Banks   map[string]Bank `mapstructure:"banks"`
	// SAF paces the store-and-forward worker and its dead-letter policy.
	SAF SAF `mapstructure:"saf"`
	// StandIn holds the stand-in (STIP) rules per bank (docs/standin.md).
	StandIn standin.Config `mapstructure:"standin"`
	// Breakers tunes each bank's circuit breaker by bank name; a bank not
	// listed gets the defaults (docs/standin.md).
	Breakers map[string]breaker.Config `mapstructure:"breakers"`
	// Recon configures the reconciliation of the banks' clearing files
	// (docs/recon.md); switchctl reads the same keys.
	Recon recon.ReconConfig `mapstructure:"recon"`
	// Settlement is the merchants' commission rates and payout calendar
	// (docs/recon.md).
	Settlement recon.SettlementConfig `mapstructure:"settlement"`
}

// API is the upstream HTTP API.
type API struct {
	Listen string `mapstructure:"listen"`
	// BodyLimit is the largest accepted request body in bytes.
	BodyLimit int64 `mapstructure:"body_limit"`
	// MaxInFlight bounds concurrent payment requests; beyond it the API
	// answers 503 overloaded without touching a bank.
	MaxInFlight int `mapstructure:"max_in_flight"`
	// ReplayWait bounds how long a replay waits for its in-flight original.
	ReplayWait time.Duration `mapstructure:"replay_wait"`
	// ShutdownTimeout bounds the drain of in-flight requests on SIGTERM.
	ShutdownTimeout time.Duration `mapstructure:"shutdown_timeout"`
	TLS             ServerTLS     `mapstructure:"tls"`
	// Clients are the upstream API clients by name.
	Clients map[string]Client `mapstructure:"clients"`
}

// ServerTLS turns on TLS (and with it HTTP/2) for the API listener.
type ServerTLS struct {
	CertFile string `mapstructure:"cert_file"`
	KeyFile  string `mapstructure:"key_file"`
}

// Client is one upstream API client.
type Client struct {
	Token string `mapstructure:"token"`
	Role  string `mapstructure:"role"`
	// RateLimit is the sustained request rate allowed, per second; the
	// burst is one second's worth.
	RateLimit float64 `mapstructure:"rate_limit"`
}

// Metrics is the Prometheus endpoint. An empty Listen serves /metrics on the
// API listener.
type Metrics struct {
	Listen string `mapstructure:"listen"`
	// PProf serves Go's /debug/pprof on the metrics listener (profiling
	// under load); off by default, and only with metrics.listen set, so
	// it is never reachable on the API listener.
	PProf bool `mapstructure:"pprof"`
}

// Log is the process log.
type Log struct {
	Level  string `mapstructure:"level"`  // debug, info, warn, error
	Format string `mapstructure:"format"` // auto (console on a terminal), json, console
}

// Journal is the durable store.
type Journal struct {
	Driver string `mapstructure:"driver"`
	DSN    string `mapstructure:"dsn"`
	// Schema (postgres) is put first on the search_path.
	Schema string `mapstructure:"schema"`
	// Synchronous (sqlite) is FULL (default) or EXTRA; NORMAL needs
	// AllowUnsafeSync, as it may lose acknowledged commits on power loss.
	Synchronous     string        `mapstructure:"synchronous"`
	AllowUnsafeSync bool          `mapstructure:"allow_unsafe_sync"`
	BusyTimeout     time.Duration `mapstructure:"busy_timeout"`
	MaxConns        int           `mapstructure:"max_conns"`
	Committers      int           `mapstructure:"committers"`
	MaxBatch        int           `mapstructure:"max_batch"`
	MaxWait         time.Duration `mapstructure:"max_wait"`
	// PANKeys maps a key id (a positive integer) to a base64 AES-256 key
	// (32 bytes) used to encrypt PANs. Old ids stay listed so data written
	// under them remains readable after rotation.
	PANKeys      map[string]string `mapstructure:"pan_keys"`
	CurrentKeyID string            `mapstructure:"current_key_id"`
	// HMACKey is the base64 key (at least 32 bytes) of PAN look-up hashes.
	HMACKey string `mapstructure:"hmac_key"`
}

// SAF is the store-and-forward worker's section (docs/failures.md).
type SAF struct {
	// Interval between passes over the queue (default 1s).
	Interval time.Duration `mapstructure:"interval"`
	// Batch is the most items claimed per pass (default 64); Parallel the
	// most sent at once (default 8).
	Batch    int `mapstructure:"batch"`
	Parallel int `mapstructure:"parallel"`
	// Lease is how long a claimed item belongs to this process; another
	// process takes it over only after it expired (default 2m; must exceed
	// every bank timeout).
	Lease time.Duration `mapstructure:"lease"`
	// MaxAge and MaxAttempts move an unacknowledged advice (completion,
	// refund, stand-in advice) to dead-letter (default 24h; attempts 0 =
	// no limit by count). Reversals are never dead-lettered: past either
	// limit they keep repeating at the bank's repeat_interval and raise
	// h2hswitch_saf_overdue_total.
	MaxAge      time.Duration `mapstructure:"max_age"`
	MaxAttempts int           `mapstructure:"max_attempts"`
	// RecoverEvery is how often operations a dead process left without an
	// outcome are looked for (default 30s); RecoverAfter is the age from
	// which a pending operation counts as abandoned (default and minimum:
	// 2 × the longest bank timeout + commit_timeout + write_timeout).
	RecoverEvery time.Duration `mapstructure:"recover_every"`
	RecoverAfter time.Duration `mapstructure:"recover_after"`
	// CommitTimeout is the pre-send budget of an authorization or online
	// refund: one whose journal record took longer is not sent (default
	// 30s, the journal's bound on a commit). WriteTimeout bounds the
	// journal writes after a send (default 15s).
	CommitTimeout time.Duration `mapstructure:"commit_timeout"`
	WriteTimeout  time.Duration `mapstructure:"write_timeout"`
}

// Routing is the routing table.
type Routing struct {
	File string `mapstructure:"file"`
}

// Bank is one bank's host-to-host link.
type Bank struct {
	Dialect        string        `mapstructure:"dialect"`
	Addr           string        `mapstructure:"addr"`
	Connections    int           `mapstructure:"connections"`
	Timeout        time.Duration `mapstructure:"timeout"`
	AcquirerID     string        `mapstructure:"acquirer_id"`
	EchoInterval   time.Duration `mapstructure:"echo_interval"`
	ReadTimeout    time.Duration `mapstructure:"read_timeout"`
	RepeatInterval time.Duration `mapstructure:"repeat_interval"`
	// RepeatMin is the first repeat's delay, doubled per repeat up to
	// repeat_interval (default repeat_interval/8).
	RepeatMin time.Duration `mapstructure:"repeat_min"`
	// MaxInFlight bounds outstanding requests per connection.
	MaxInFlight int     `mapstructure:"max_in_flight"`
	TLS         BankTLS `mapstructure:"tls"`
}

// BankTLS is the client side of a bank link's TLS.
type BankTLS struct {
	Enabled    bool   `mapstructure:"enabled"`
	CAFile     string `mapstructure:"ca_file"`
	CertFile   string `mapstructure:"cert_file"`
	KeyFile    string `mapstructure:"key_file"`
	ServerName string `mapstructure:"server_name"`
}

// dialectDefaults are the production values of each dialect's interface
// document, used when a bank's key is absent.
type dialectDefaults struct {
	connections    int
	timeout        time.Duration
	repeatInterval time.Duration
}

// knownDialect returns the defaults of a dialect the switch speaks. The
// names are those of specs.Lookup.
func knownDialect(name string) (dialectDefaults, bool) {
	switch name {
	case "h2h87-ascii":
		return dialectDefaults{connections: 4, timeout: 15 * time.Second, repeatInterval: 30 * time.Second}, true
	case "h2h87-binary":
		return dialectDefaults{connections: 8, timeout: 8 * time.Second, repeatInterval: 20 * time.Second}, true
	}
	return dialectDefaults{}, false
}

// Error lists every problem found in a configuration. Each problem starts
// with the key it concerns.
type Error struct {
	Problems []string
}

func (e *Error) Error() string {
	return fmt.Sprintf("invalid configuration (%d problems):\n  %s", len(e.Problems), strings.Join(e.Problems, "\n  "))
}

// Load reads the file at path, applies environment overrides from the
// process environment, fills defaults and validates. The returned warnings
// (e.g. DEMO secrets in use, unrecognized SWITCH_ variables) should be logged.
func Load(path string) (*Config, []string, error) {
	return load(path, os.Environ())
}

func load(path string, environ []string) (*Config, []string, error) {
	v := viper.New()
	v.SetConfigFile(path)
	v.SetConfigType("yaml")
	if err := v.ReadInConfig(); err != nil {
		return nil, nil, fmt.Errorf("reading config %s: %w", path, err)
	}
	warnings := bindEnv(v, environ)

	var problems []string
	problems = append(problems, unknownKeys(v.AllKeys())...)

	var cfg Config
	if err := v.Unmarshal(&cfg, func(dc *mapstructure.DecoderConfig) { dc.ErrorUnused = false }); err != nil {
		problems = append(problems, fmt.Sprintf("decoding: %v", err))
		return nil, warnings, &Error{Problems: problems}
	}
	cfg.applyDefaults()
	problems = append(problems, cfg.validate()...)
	if len(problems) > 0 {
		sort.Strings(problems)
		return nil, warnings, &Error{Problems: problems}
	}
	warnings = append(warnings, cfg.demoWarnings()...)
	return &cfg, warnings, nil
}

// schemaKeys is every leaf key path of Config, map entries as "*". It is
// derived from the type once and never modified.
var schemaKeys = leafKeys(reflect.TypeFor[Config](), "")

func leafKeys(t reflect.Type, prefix string) []string {
	var out []string
	for i := range t.NumField() {
		f := t.Field(i)
		name := f.Tag.Get("mapstructure")
		path := join(prefix, name)
		if strings.HasSuffix(name, ",squash") {
			// An embedded struct whose keys sit at its parent's level.
			out = append(out, leafKeys(f.Type, prefix)...)
			continue
		}
		switch {
		case f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeFor[time.Duration]():
			out = append(out, leafKeys(f.Type, path)...)
		case f.Type.Kind() == reflect.Map && f.Type.Elem().Kind() == reflect.Struct:
			out = append(out, leafKeys(f.Type.Elem(), path+".*")...)
		case f.Type.Kind() == reflect.Map:
			out = append(out, path+".*")
		default:
			out = append(out, path)
		}
	}
	return out
}

func join(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}

// matchKey reports whether key (dot path) fits pattern (dot path with "*"
// segments), or is an intermediate node of it when prefixOK.
func matchKey(pattern, key string, prefixOK bool) bool {
	ps, ks := strings.Split(pattern, "."), strings.Split(key, ".")
	if len(ks) > len(ps) || (!prefixOK && len(ks) != len(ps)) {
		return false
	}
	for i := range ks {
		if ps[i] != "*" && ps[i] != ks[i] {
			return false
		}
	}
	return true
}

func unknownKeys(keys []string) []string {
	var out []string
	for _, k := range keys {
		known := false
		for _, p := range schemaKeys {
			if matchKey(p, k, true) {
				known = true
				break
			}
		}
		if !known {
			out = append(out, fmt.Sprintf("%s: unknown key", k))
		}
	}
	return out
}

var mapNamePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,31}$`)

// bindEnv binds every schema key to its SWITCH_ variable. Keys under maps
// (banks.<name>.addr, api.clients.<name>.token, journal.pan_keys.<id>) are
// discovered from the environment: viper only consults variables of keys it
// knows, so an entry present only in the environment needs an explicit bind.
// When a variable fits several patterns, the one with the longest literal
// suffix wins (SWITCH_BANKS_ALFA_READ_TIMEOUT is banks.alfa.read_timeout,
// not banks.alfa_read.timeout).
func bindEnv(v *viper.Viper, environ []string) []string {
	var warnings []string
	for _, k := range schemaKeys {
		if !strings.Contains(k, "*") {
			_ = v.BindEnv(k, envName(k)) // BindEnv fails only without a key
		}
	}
	for _, kv := range environ {
		name, _, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(name, EnvPrefix+"_") || strings.HasPrefix(name, EnvPrefix+"_TEST_") {
			continue
		}
		rest := strings.ToLower(strings.TrimPrefix(name, EnvPrefix+"_"))
		key, known := envKey(rest)
		if !known {
			warnings = append(warnings, fmt.Sprintf("environment variable %s matches no configuration key; ignored", name))
			continue
		}
		_ = v.BindEnv(key, name)
	}
	return warnings
}

func envName(key string) string {
	return EnvPrefix + "_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// envKey maps the lower-cased variable name without prefix to a key path.
func envKey(rest string) (string, bool) {
	best, bestLen := "", -1
	for _, p := range schemaKeys {
		before, after, wild := strings.Cut(p, ".*")
		if !wild {
			if strings.ReplaceAll(p, ".", "_") == rest {
				return p, true
			}
			continue
		}
		head := strings.ReplaceAll(before, ".", "_") + "_"
		tail := strings.ReplaceAll(after, ".", "_") // "" or "_addr"
		if !strings.HasPrefix(rest, head) || !strings.HasSuffix(rest, tail) || len(rest) <= len(head)+len(tail) {
			continue
		}
		name := rest[len(head) : len(rest)-len(tail)]
		if !mapNamePattern.MatchString(name) {
			continue
		}
		if len(tail) > bestLen {
			best, bestLen = before+"."+name+after, len(tail)
		}
	}
	return best, bestLen >= 0
}

func (c *Config) applyDefaults() {
	if c.API.BodyLimit == 0 {
		c.API.BodyLimit = MaxBodyLimit
	}
	if c.API.MaxInFlight == 0 {
		c.API.MaxInFlight = 1024
	}
	if c.API.ReplayWait == 0 {
		c.API.ReplayWait = 30 * time.Second
	}
	if c.API.ShutdownTimeout == 0 {
		c.API.ShutdownTimeout = 30 * time.Second
	}
	if c.Log.Level == "" {
		c.Log.Level = "info"
	}
	if c.Log.Format == "" {
		c.Log.Format = "auto"
	}
	if c.Journal.Driver == "" {
		c.Journal.Driver = DriverSQLite
	}
	if c.SAF.Interval == 0 {
		c.SAF.Interval = time.Second
	}
	if c.SAF.Batch == 0 {
		c.SAF.Batch = 64
	}
	if c.SAF.Parallel == 0 {
		c.SAF.Parallel = 8
	}
	if c.SAF.Lease == 0 {
		c.SAF.Lease = 2 * time.Minute
	}
	if c.SAF.MaxAge == 0 {
		c.SAF.MaxAge = 24 * time.Hour
	}
	if c.SAF.RecoverEvery == 0 {
		c.SAF.RecoverEvery = 30 * time.Second
	}
	if c.SAF.CommitTimeout == 0 {
		c.SAF.CommitTimeout = 30 * time.Second
	}
	if c.SAF.WriteTimeout == 0 {
		c.SAF.WriteTimeout = 15 * time.Second
	}
	for name, b := range c.Banks {
		if d, ok := knownDialect(b.Dialect); ok {
			if b.Connections == 0 {
				b.Connections = d.connections
			}
			if b.Timeout == 0 {
				b.Timeout = d.timeout
			}
			if b.RepeatInterval == 0 {
				b.RepeatInterval = d.repeatInterval
			}
		}
		if b.EchoInterval == 0 {
			b.EchoInterval = 30 * time.Second
		}
		if b.ReadTimeout == 0 {
			b.ReadTimeout = 90 * time.Second
		}
		if b.MaxInFlight == 0 {
			b.MaxInFlight = 256
		}
		c.Banks[name] = b
	}
}

func (c *Config) validate() []string {
	var p problems
	p.addr("api.listen", c.API.Listen, true)
	p.addr("metrics.listen", c.Metrics.Listen, false)
	if c.Metrics.Listen != "" && c.Metrics.Listen == c.API.Listen {
		p.add("metrics.listen", "must differ from api.listen (leave it empty to serve /metrics on the API listener)")
	}
	if c.API.BodyLimit < 1024 || c.API.BodyLimit > MaxBodyLimit {
		p.add("api.body_limit", fmt.Sprintf("%d out of range 1024..%d", c.API.BodyLimit, MaxBodyLimit))
	}
	if c.API.MaxInFlight < 1 || c.API.MaxInFlight > 100000 {
		p.add("api.max_in_flight", fmt.Sprintf("%d out of range 1..100000", c.API.MaxInFlight))
	}
	p.duration("api.replay_wait", c.API.ReplayWait, time.Second, 10*time.Minute)
	p.duration("api.shutdown_timeout", c.API.ShutdownTimeout, time.Second, 10*time.Minute)
	if (c.API.TLS.CertFile == "") != (c.API.TLS.KeyFile == "") {
		p.add("api.tls", "cert_file and key_file must be set together")
	}
	c.validateClients(&p)

	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		p.add("log.level", fmt.Sprintf("unknown level %q (want debug, info, warn or error)", c.Log.Level))
	}
	switch c.Log.Format {
	case "auto", "json", "console":
	default:
		p.add("log.format", fmt.Sprintf("unknown format %q (want auto, json or console)", c.Log.Format))
	}

	c.validateJournal(&p)
	if strings.TrimSpace(c.Routing.File) == "" {
		p.add("routing.file", "required")
	}
	c.validateBanks(&p)
	c.validateFailures(&p)
	c.validateRecon(&p)
	return p
}

// validateRecon checks the recon and settlement sections against the
// configured banks; recon names each key.
func (c *Config) validateRecon(p *problems) {
	dialects := make(map[string]string, len(c.Banks))
	for name, b := range c.Banks {
		dialects[name] = b.Dialect
	}
	*p = append(*p, recon.Problems(c.Recon, c.Settlement, dialects)...)
}

// validateFailures checks the saf, standin and breakers sections.
func (c *Config) validateFailures(p *problems) {
	s := c.SAF
	p.duration("saf.interval", s.Interval, 10*time.Millisecond, time.Minute)
	if s.Batch < 1 || s.Batch > 10000 {
		p.add("saf.batch", fmt.Sprintf("%d out of range 1..10000", s.Batch))
	}
	if s.Parallel < 1 || s.Parallel > 256 {
		p.add("saf.parallel", fmt.Sprintf("%d out of range 1..256", s.Parallel))
	}
	p.duration("saf.lease", s.Lease, time.Second, time.Hour)
	for _, name := range sortedKeys(c.Banks) {
		if t := c.Banks[name].Timeout; s.Lease > 0 && t > 0 && s.Lease < t+5*time.Second {
			p.add("saf.lease", fmt.Sprintf("%v must exceed banks.%s.timeout %v by at least 5s", s.Lease, name, t))
		}
	}
	p.duration("saf.max_age", s.MaxAge, time.Minute, 90*24*time.Hour) // advices only
	if s.MaxAttempts < 0 {
		p.add("saf.max_attempts", "must not be negative (0: no limit by count)")
	}
	if s.RecoverEvery < 0 {
		// negative is refused: recovery of dead peers must not be switched off by accident
		p.add("saf.recover_every", "must not be negative")
	}
	p.duration("saf.commit_timeout", s.CommitTimeout, 100*time.Millisecond, 5*time.Minute)
	p.duration("saf.write_timeout", s.WriteTimeout, 100*time.Millisecond, 5*time.Minute)
	if s.RecoverAfter < 0 {
		p.add("saf.recover_after", "must not be negative")
	}
	if s.RecoverAfter > 0 {
		// An attempt may stay pending for its pre-send budget, the link's
		// slot and response waits (2 × timeout) and the write of its
		// answer: recovering it sooner would decline and reverse a
		// request whose answer is still coming.
		for _, name := range sortedKeys(c.Banks) {
			if t := c.Banks[name].Timeout; t > 0 {
				if least := 2*t + s.CommitTimeout + s.WriteTimeout; s.RecoverAfter < least {
					p.add("saf.recover_after", fmt.Sprintf("%v must be at least 2 × banks.%s.timeout + saf.commit_timeout + saf.write_timeout = %v", s.RecoverAfter, name, least))
				}
			}
		}
	}
	for _, name := range sortedKeys(c.Banks) {
		b := c.Banks[name]
		if b.RepeatMin < 0 || (b.RepeatMin > 0 && b.RepeatMin > b.RepeatInterval) {
			p.add("banks."+name+".repeat_min", fmt.Sprintf("%v must be 0..repeat_interval (%v)", b.RepeatMin, b.RepeatInterval))
		}
	}
	for _, name := range sortedKeys(c.StandIn.Banks) {
		if _, ok := c.Banks[name]; !ok {
			p.add("standin.banks."+name, "not a configured bank")
		}
	}
	if _, err := standin.New(c.StandIn, standin.Options{Journal: noJournal{}}); err != nil {
		// One problem per line; each already starts with its key.
		msg := strings.TrimPrefix(err.Error(), "standin: invalid configuration: ")
		for _, line := range strings.Split(msg, "\n") {
			if !strings.HasPrefix(line, "standin.") {
				line = "standin: " + line
			}
			*p = append(*p, line)
		}
	}
	for _, name := range sortedKeys(c.Breakers) {
		if _, ok := c.Banks[name]; !ok {
			p.add("breakers."+name, "not a configured bank")
			continue
		}
		if err := c.Breakers[name].WithDefaults().Validate("breakers." + name); err != nil {
			p.add("breakers."+name, err.Error())
		}
	}
}

// noJournal lets the stand-in rules be validated at load, before the
// journal is open.
type noJournal struct{}

func (noJournal) ListPayments(context.Context, journal.PaymentFilter) ([]*journal.Payment, error) {
	return nil, nil
}

func (c *Config) validateClients(p *problems) {
	if len(c.API.Clients) == 0 {
		p.add("api.clients", "at least one client is required")
	}
	tokens := map[string]string{}
	for _, name := range sortedKeys(c.API.Clients) {
		cl := c.API.Clients[name]
		key := "api.clients." + name
		if !mapNamePattern.MatchString(name) {
			p.add(key, "client name must be 1..32 of [a-z0-9_-]")
		}
		switch {
		case cl.Token == "":
			p.add(key+".token", "required")
		case len(cl.Token) < 24:
			p.add(key+".token", "too short (at least 24 characters)")
		case strings.ContainsAny(cl.Token, " \t\r\n"):
			p.add(key+".token", "must not contain whitespace")
		}
		if other, dup := tokens[cl.Token]; dup && cl.Token != "" {
			p.add(key+".token", "same token as api.clients."+other)
		}
		tokens[cl.Token] = name
		if cl.Role != RoleGateway && cl.Role != RoleOperator {
			p.add(key+".role", fmt.Sprintf("unknown role %q (want gateway or operator)", cl.Role))
		}
		if cl.RateLimit <= 0 || cl.RateLimit > 1e6 {
			p.add(key+".rate_limit", fmt.Sprintf("%v out of range (0, 1000000] requests per second", cl.RateLimit))
		}
	}
}

func (c *Config) validateJournal(p *problems) {
	j := c.Journal
	if j.Driver != DriverSQLite && j.Driver != DriverPostgres {
		p.add("journal.driver", fmt.Sprintf("unknown driver %q (want sqlite or postgres)", j.Driver))
	}
	if strings.TrimSpace(j.DSN) == "" {
		p.add("journal.dsn", "required")
	}
	if len(j.PANKeys) == 0 {
		p.add("journal.pan_keys", "at least one key is required")
	}
	switch strings.ToUpper(j.Synchronous) {
	case "", "FULL", "EXTRA":
	case "NORMAL":
		if !j.AllowUnsafeSync {
			p.add("journal.synchronous", "NORMAL can lose acknowledged commits on power loss; set journal.allow_unsafe_sync to accept that")
		}
	default:
		p.add("journal.synchronous", fmt.Sprintf("%q is not FULL, EXTRA or NORMAL", j.Synchronous))
	}
	if j.BusyTimeout < 0 {
		p.add("journal.busy_timeout", "must not be negative")
	}
	if j.MaxConns < 0 || j.MaxConns > 1000 {
		p.add("journal.max_conns", fmt.Sprintf("%d out of range 1..1000", j.MaxConns))
	}
	if j.Committers < 0 || j.Committers > 64 {
		p.add("journal.committers", fmt.Sprintf("%d out of range 1..64", j.Committers))
	}
	if j.MaxBatch < 0 || j.MaxBatch > 10000 {
		p.add("journal.max_batch", fmt.Sprintf("%d out of range 1..10000", j.MaxBatch))
	}
	if j.MaxWait < 0 || j.MaxWait > time.Second {
		p.add("journal.max_wait", fmt.Sprintf("%v out of range 0..1s", j.MaxWait))
	}
	for _, id := range sortedKeys(j.PANKeys) {
		key := "journal.pan_keys." + id
		if _, err := KeyID(id); err != nil {
			p.add(key, err.Error())
		}
		// Never echo key material in a problem.
		if b, err := base64.StdEncoding.DecodeString(j.PANKeys[id]); err != nil {
			p.add(key, "not valid base64")
		} else if len(b) != 32 {
			p.add(key, fmt.Sprintf("decodes to %d bytes, want 32 (AES-256)", len(b)))
		}
	}
	if j.CurrentKeyID == "" {
		p.add("journal.current_key_id", "required")
	} else if _, ok := j.PANKeys[j.CurrentKeyID]; !ok {
		p.add("journal.current_key_id", fmt.Sprintf("key id %q is not in journal.pan_keys", j.CurrentKeyID))
	}
	if b, err := base64.StdEncoding.DecodeString(j.HMACKey); j.HMACKey == "" {
		p.add("journal.hmac_key", "required")
	} else if err != nil {
		p.add("journal.hmac_key", "not valid base64")
	} else if len(b) < 32 {
		p.add("journal.hmac_key", fmt.Sprintf("decodes to %d bytes, want at least 32", len(b)))
	}
}

var acquirerIDPattern = regexp.MustCompile(`^[0-9]{1,11}$`)

func (c *Config) validateBanks(p *problems) {
	if len(c.Banks) == 0 {
		p.add("banks", "at least one bank is required")
	}
	for _, name := range sortedKeys(c.Banks) {
		b := c.Banks[name]
		key := "banks." + name
		if !mapNamePattern.MatchString(name) {
			p.add(key, "bank name must be 1..32 of [a-z0-9_-]")
		}
		if _, ok := knownDialect(b.Dialect); !ok {
			p.add(key+".dialect", fmt.Sprintf("unknown dialect %q (want h2h87-ascii or h2h87-binary)", b.Dialect))
		}
		p.addr(key+".addr", b.Addr, true)
		if b.Connections < 1 || b.Connections > 64 {
			p.add(key+".connections", fmt.Sprintf("%d out of range 1..64", b.Connections))
		}
		p.duration(key+".timeout", b.Timeout, 100*time.Millisecond, 2*time.Minute)
		p.duration(key+".echo_interval", b.EchoInterval, 10*time.Millisecond, time.Hour)
		p.duration(key+".read_timeout", b.ReadTimeout, 50*time.Millisecond, 2*time.Hour)
		p.duration(key+".repeat_interval", b.RepeatInterval, 10*time.Millisecond, time.Hour)
		if b.ReadTimeout > 0 && b.EchoInterval > 0 && b.ReadTimeout <= b.EchoInterval {
			p.add(key+".read_timeout", fmt.Sprintf("%v must exceed echo_interval %v", b.ReadTimeout, b.EchoInterval))
		}
		if !acquirerIDPattern.MatchString(b.AcquirerID) {
			p.add(key+".acquirer_id", "required, 1..11 digits")
		}
		if b.MaxInFlight < 1 || b.MaxInFlight > 10000 {
			p.add(key+".max_in_flight", fmt.Sprintf("%d out of range 1..10000", b.MaxInFlight))
		}
		t := b.TLS
		if !t.Enabled && (t.CAFile != "" || t.CertFile != "" || t.KeyFile != "" || t.ServerName != "") {
			p.add(key+".tls.enabled", "false, but other tls keys are set")
		}
		if (t.CertFile == "") != (t.KeyFile == "") {
			p.add(key+".tls", "cert_file and key_file must be set together")
		}
		for k, f := range map[string]string{"ca_file": t.CAFile, "cert_file": t.CertFile, "key_file": t.KeyFile} {
			if f == "" || !t.Enabled {
				continue
			}
			if _, err := os.Stat(f); err != nil {
				p.add(key+".tls."+k, fmt.Sprintf("cannot read %s: %v", f, errors.Unwrap(err)))
			}
		}
	}
}

type problems []string

func (p *problems) add(key, msg string) { *p = append(*p, key+": "+msg) }

func (p *problems) addr(key, v string, required bool) {
	if v == "" {
		if required {
			p.add(key, "required (host:port)")
		}
		return
	}
	if _, port, err := net.SplitHostPort(v); err != nil || port == "" {
		p.add(key, fmt.Sprintf("%q is not host:port", v))
	}
}

func (p *problems) duration(key string, d, lo, hi time.Duration) {
	if d < lo || d > hi {
		p.add(key, fmt.Sprintf("%v out of range %v..%v", d, lo, hi))
	}
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// demoWarnings flags secrets marked DEMO, so a demo configuration that
// reaches production shows up in the first log lines.
func (c *Config) demoWarnings() []string {
	var w []string
	for _, name := range sortedKeys(c.API.Clients) {
		if strings.Contains(strings.ToUpper(c.API.Clients[name].Token), "DEMO") {
			w = append(w, "api.clients."+name+".token: DEMO token in use; set SWITCH_API_CLIENTS_"+strings.ToUpper(name)+"_TOKEN in production")
		}
	}
	for _, id := range sortedKeys(c.Journal.PANKeys) {
		if strings.HasPrefix(c.Journal.PANKeys[id], "DEMO") {
			w = append(w, "journal.pan_keys."+id+": DEMO key in use")
		}
	}
	if strings.HasPrefix(c.Journal.HMACKey, "DEMO") {
		w = append(w, "journal.hmac_key: DEMO key in use")
	}
	return w
}

// KeyID parses a PAN key id: a positive 32-bit integer, as the card vault
// stores it with each ciphertext.
func KeyID(s string) (uint32, error) {
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil || n == 0 || s[0] == '0' {
		return 0, fmt.Errorf("key id %q is not an integer from 1 to 4294967295", s)
	}
	return uint32(n), nil
}

// PANKeyBytes returns the decoded PAN encryption keys by id. Call only on a
// validated Config.
func (j Journal) PANKeyBytes() map[uint32][]byte {
	out := make(map[uint32][]byte, len(j.PANKeys))
	for id, s := range j.PANKeys {
		n, _ := KeyID(id)                          // validated at load
		b, _ := base64.StdEncoding.DecodeString(s) // validated at load
		out[n] = b
	}
	return out
}

// CurrentKey returns the current PAN key id. Call only on a validated Config.
func (j Journal) CurrentKey() uint32 {
	n, _ := KeyID(j.CurrentKeyID)
	return n
}

// HMACKeyBytes returns the decoded HMAC key. Call only on a validated Config.
func (j Journal) HMACKeyBytes() []byte {
	b, _ := base64.StdEncoding.DecodeString(j.HMACKey) // validated at load
	return b
}

// BankNames returns the configured bank names, sorted.
func (c *Config) BankNames() []string { return sortedKeys(c.Banks) }
