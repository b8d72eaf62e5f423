package banksim

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"gopkg.in/yaml.v3"
)

// FileConfig is the YAML configuration file of cmd/banksim: the host's
// Config plus the control API address and the log level.
type FileConfig struct {
	Config   `yaml:",inline"`
	Control  string `yaml:"control"`
	LogLevel string `yaml:"log_level"`
}

const maxConfigFile = 1 << 20

// LoadConfigFile reads a YAML configuration. Unknown keys are errors, so a
// misspelt key is not silently ignored.
func LoadConfigFile(path string) (FileConfig, error) {
	var fc FileConfig
	f, err := os.Open(path)
	if err != nil {
		return fc, fmt.Errorf("opening config %s: %w", path, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxConfigFile+1))
	if err != nil {
		return fc, fmt.Errorf("reading config %s: %w", path, err)
	}
	if len(b) > maxConfigFile {
		return fc, fmt.Errorf("reading config %s: larger than %d bytes", path, maxConfigFile)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&fc); err != nil && !errors.Is(err, io.EOF) {
		return fc, fmt.Errorf("parsing config %s: %w", path, err)
	}
	return fc, nil
}
