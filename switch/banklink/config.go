package banklink

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"time"
)

// Config configures one bank's link. Zero values are filled by
// ApplyDefaults from the dialect's defaults; Validate names the offending key
// (the mapstructure/yaml name) in every error.
type Config struct {
	// Bank is the bank's name in the switch ("alfa", "sber"); it labels logs,
	// metrics, health and OnUnsolicited.
	Bank string `mapstructure:"bank" yaml:"bank"`
	// Dialect is the specs dialect name ("h2h87-ascii", "h2h87-binary").
	Dialect string `mapstructure:"dialect" yaml:"dialect"`
	// Address is the bank host's host:port.
	Address string `mapstructure:"address" yaml:"address"`

	// Connections is how many persistent connections to keep open.
	Connections int `mapstructure:"connections" yaml:"connections"`
	// MaxInFlight bounds outstanding requests per connection.
	MaxInFlight int `mapstructure:"max_in_flight" yaml:"max_in_flight"`

	// Timeout is how long Send waits for the bank's response once the
	// request is written.
	Timeout time.Duration `mapstructure:"timeout" yaml:"timeout"`
	// EchoInterval: an 0800/301 is sent on a connection idle this long.
	EchoInterval time.Duration `mapstructure:"echo_interval" yaml:"echo_interval"`
	// EchoTimeout is how long an echo waits for its 0810.
	EchoTimeout time.Duration `mapstructure:"echo_timeout" yaml:"echo_timeout"`
	// EchoMaxFailures consecutive failed echoes close the connection.
	EchoMaxFailures int `mapstructure:"echo_max_failures" yaml:"echo_max_failures"`
	// ReadTimeout: a connection on which nothing is received this long is
	// closed and reopened.
	ReadTimeout time.Duration `mapstructure:"read_timeout" yaml:"read_timeout"`
	// ConnectTimeout bounds TCP connect plus TLS handshake.
	ConnectTimeout time.Duration `mapstructure:"connect_timeout" yaml:"connect_timeout"`
	// WriteTimeout bounds one socket write; a write that cannot complete in
	// time kills the connection.
	WriteTimeout time.Duration `mapstructure:"write_timeout" yaml:"write_timeout"`
	// SignOnTimeout is how long sign-on waits for its 0810.
	SignOnTimeout time.Duration `mapstructure:"sign_on_timeout" yaml:"sign_on_timeout"`
	// SignOffTimeout is how long sign-off waits for its 0810 on Close.
	SignOffTimeout time.Duration `mapstructure:"sign_off_timeout" yaml:"sign_off_timeout"`
	// BackoffMin and BackoffMax bound the reconnect back-off (exponential,
	// doubled per failure, with jitter).
	BackoffMin time.Duration `mapstructure:"backoff_min" yaml:"backoff_min"`
	BackoffMax time.Duration `mapstructure:"backoff_max" yaml:"backoff_max"`
	// LateWindow is how long the STAN of a request that timed out (or whose
	// connection died) stays reserved so that a late response cannot be
	// matched to a new request that reused it.
	LateWindow time.Duration `mapstructure:"late_window" yaml:"late_window"`

	TLS TLSConfig `mapstructure:"tls" yaml:"tls"`
}

// TLSConfig enables TLS (1.2 minimum) towards the bank.
type TLSConfig struct {
	Enabled bool `mapstructure:"enabled" yaml:"enabled"`
	// CAFile is a PEM bundle of the CAs that sign the bank's certificate;
	// empty means the system roots.
	CAFile string `mapstructure:"ca_file" yaml:"ca_file"`
	// CertFile and KeyFile are the switch's client certificate (mutual TLS);
	// both or neither.
	CertFile string `mapstructure:"cert_file" yaml:"cert_file"`
	KeyFile  string `mapstructure:"key_file" yaml:"key_file"`
	// ServerName overrides the name verified in the bank's certificate;
	// empty means the host part of Address.
	ServerName string `mapstructure:"server_name" yaml:"server_name"`
	// MinVersion is "1.2" (default) or "1.3".
	MinVersion string `mapstructure:"min_version" yaml:"min_version"`
}

// dialectDefaults are the contract's limits and timers per dialect.
type dialectDefaults struct {
	maxConnections int
	timeout        time.Duration
}

func defaultsFor(dialect string) (dialectDefaults, bool) {
	switch dialect {
	case "h2h87-ascii": // Bank A: up to 4 connections, answers within 15 s
		return dialectDefaults{maxConnections: 4, timeout: 15 * time.Second}, true
	case "h2h87-binary": // Bank B: up to 8 connections, answers within 8 s
		return dialectDefaults{maxConnections: 8, timeout: 8 * time.Second}, true
	}
	return dialectDefaults{}, false
}

// ApplyDefaults fills zero fields with production defaults for c.Dialect.
func (c *Config) ApplyDefaults() {
	dd, ok := defaultsFor(c.Dialect)
	if !ok {
		dd = dialectDefaults{maxConnections: 2, timeout: 15 * time.Second}
	}
	setInt := func(p *int, v int) {
		if *p == 0 {
			*p = v
		}
	}
	setDur := func(p *time.Duration, v time.Duration) {
		if *p == 0 {
			*p = v
		}
	}
	setInt(&c.Connections, dd.maxConnections)
	setInt(&c.MaxInFlight, 64)
	setInt(&c.EchoMaxFailures, 3)
	setDur(&c.Timeout, dd.timeout)
	setDur(&c.EchoInterval, 30*time.Second)
	setDur(&c.EchoTimeout, min(c.Timeout, 10*time.Second))
	setDur(&c.ReadTimeout, 90*time.Second)
	setDur(&c.ConnectTimeout, 10*time.Second)
	setDur(&c.WriteTimeout, 5*time.Second)
	setDur(&c.SignOnTimeout, c.Timeout)
	setDur(&c.SignOffTimeout, 5*time.Second)
	setDur(&c.BackoffMin, 200*time.Millisecond)
	setDur(&c.BackoffMax, 30*time.Second)
	setDur(&c.LateWindow, 10*time.Minute)
	if c.TLS.Enabled && c.TLS.MinVersion == "" {
		c.TLS.MinVersion = "1.2"
	}
}

// Validate checks c after ApplyDefaults. Every error names its key.
func (c *Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("banklink %q: %s: %s", c.Bank, key, fmt.Sprintf(format, args...)))
	}
	if c.Bank == "" {
		bad("bank", "must not be empty")
	}
	dd, ok := defaultsFor(c.Dialect)
	if !ok {
		bad("dialect", "unknown dialect %q (want h2h87-ascii or h2h87-binary)", c.Dialect)
	}
	if _, port, err := net.SplitHostPort(c.Address); err != nil || port == "" {
		bad("address", "must be host:port, got %q", c.Address)
	}
	if c.Connections < 1 || (ok && c.Connections > dd.maxConnections) {
		bad("connections", "must be 1..%d for %s, got %d", dd.maxConnections, c.Dialect, c.Connections)
	}
	if c.MaxInFlight < 1 || c.MaxInFlight > 10000 {
		bad("max_in_flight", "must be 1..10000, got %d", c.MaxInFlight)
	}
	if c.EchoMaxFailures < 1 {
		bad("echo_max_failures", "must be at least 1, got %d", c.EchoMaxFailures)
	}
	for _, d := range []struct {
		key string
		v   time.Duration
	}{
		{"timeout", c.Timeout}, {"echo_interval", c.EchoInterval}, {"echo_timeout", c.EchoTimeout},
		{"read_timeout", c.ReadTimeout}, {"connect_timeout", c.ConnectTimeout},
		{"write_timeout", c.WriteTimeout}, {"sign_on_timeout", c.SignOnTimeout},
		{"sign_off_timeout", c.SignOffTimeout}, {"backoff_min", c.BackoffMin},
		{"backoff_max", c.BackoffMax}, {"late_window", c.LateWindow},
	} {
		if d.v <= 0 {
			bad(d.key, "must be positive, got %s", d.v)
		}
	}
	if c.BackoffMax < c.BackoffMin {
		bad("backoff_max", "must not be below backoff_min (%s), got %s", c.BackoffMin, c.BackoffMax)
	}
	if c.ReadTimeout > 0 && c.ReadTimeout <= c.EchoInterval {
		// Otherwise an idle but healthy link is cut before its echo can prove it alive.
		bad("read_timeout", "must exceed echo_interval (%s), got %s", c.EchoInterval, c.ReadTimeout)
	}
	if c.LateWindow > 0 && c.LateWindow < c.Timeout {
		bad("late_window", "must be at least timeout (%s), got %s", c.Timeout, c.LateWindow)
	}
	if t := c.TLS; t.Enabled {
		if (t.CertFile == "") != (t.KeyFile == "") {
			bad("tls.cert_file", "tls.cert_file and tls.key_file must be set together")
		}
		if t.MinVersion != "1.2" && t.MinVersion != "1.3" {
			bad("tls.min_version", "must be 1.2 or 1.3, got %q", t.MinVersion)
		}
	}
	return errors.Join(errs...)
}

// buildTLS loads the files named in c.TLS; nil when TLS is off.
func (c *Config) buildTLS() (*tls.Config, error) {
	t := c.TLS
	if !t.Enabled {
		return nil, nil
	}
	conf := &tls.Config{MinVersion: tls.VersionTLS12}
	if t.MinVersion == "1.3" {
		conf.MinVersion = tls.VersionTLS13
	}
	conf.ServerName = t.ServerName
	if conf.ServerName == "" {
		host, _, err := net.SplitHostPort(c.Address)
		if err != nil {
			return nil, fmt.Errorf("banklink %q: address: %w", c.Bank, err)
		}
		conf.ServerName = host
	}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("banklink %q: tls.ca_file: %w", c.Bank, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("banklink %q: tls.ca_file: no PEM certificate in %s", c.Bank, t.CAFile)
		}
		conf.RootCAs = pool
	}
	if t.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("banklink %q: tls.cert_file/tls.key_file: %w", c.Bank, err)
		}
		conf.Certificates = []tls.Certificate{cert}
	}
	return conf, nil
}
