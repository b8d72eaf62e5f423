// Package cardvault protects card data at rest: it encrypts the PAN and
// expiry with AES-256-GCM under a key ring whose current key can rotate
// (old keys stay readable by id), hashes PANs with HMAC-SHA256 for look-ups
// without decryption, and masks PANs as first 6 + last 4.
//
// Key material comes from configuration or the environment, never from code.
package cardvault

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Environment variables read by ConfigFromEnv.
const (
	EnvKeys       = "SWITCH_PAN_KEYS"        // "1:<base64 32 bytes>,2:<base64 32 bytes>"
	EnvCurrentKey = "SWITCH_PAN_KEY_CURRENT" // id of the key new data is sealed with
	EnvHashKey    = "SWITCH_PAN_HASH_KEY"    // base64, at least 32 bytes
)

// plaintextVersion is the first byte of every sealed plaintext, so that the
// layout can change without guessing.
const plaintextVersion = 1

const (
	keyLen      = 32
	minHashKey  = 32
	maxPANLen   = 19
	minPANLen   = 12
	maxSealed   = 1 + 12 + 64 + 16 // generous bound for hostile input
	expiryLen   = 4
	nonceLength = 12
)

// Errors; test with errors.Is.
var (
	ErrUnknownKey = errors.New("cardvault: unknown key id")
	ErrDecrypt    = errors.New("cardvault: ciphertext does not open")
	ErrConfig     = errors.New("cardvault: bad configuration")
	ErrCardData   = errors.New("cardvault: bad card data")
)

// Config is the key material. Keys maps a key id (> 0) to its 32-byte AES
// key; CurrentKeyID selects the key new data is sealed with. HashKey keys
// the PAN HMAC; it cannot rotate without re-hashing every stored PAN.
type Config struct {
	CurrentKeyID uint32
	Keys         map[uint32][]byte
	HashKey      []byte
}

// Vault seals and opens card data. It is immutable and safe for concurrent
// use.
type Vault struct {
	current uint32
	aeads   map[uint32]cipher.AEAD
	hashKey []byte
}

// New validates cfg and builds a Vault.
func New(cfg Config) (*Vault, error) {
	if len(cfg.Keys) == 0 {
		return nil, fmt.Errorf("%w: %s: no keys", ErrConfig, EnvKeys)
	}
	v := &Vault{current: cfg.CurrentKeyID, aeads: make(map[uint32]cipher.AEAD, len(cfg.Keys))}
	for id, k := range cfg.Keys {
		if id == 0 {
			return nil, fmt.Errorf("%w: %s: key id 0 is reserved", ErrConfig, EnvKeys)
		}
		if len(k) != keyLen {
			return nil, fmt.Errorf("%w: %s: key %d is %d bytes, want %d", ErrConfig, EnvKeys, id, len(k), keyLen)
		}
		block, err := aes.NewCipher(k)
		if err != nil {
			return nil, fmt.Errorf("%w: key %d: %v", ErrConfig, id, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("%w: key %d: %v", ErrConfig, id, err)
		}
		v.aeads[id] = aead
	}
	if _, ok := v.aeads[cfg.CurrentKeyID]; !ok {
		return nil, fmt.Errorf("%w: %s: current key %d is not among the keys", ErrConfig, EnvCurrentKey, cfg.CurrentKeyID)
	}
	if len(cfg.HashKey) < minHashKey {
		return nil, fmt.Errorf("%w: %s: hash key is %d bytes, want at least %d", ErrConfig, EnvHashKey, len(cfg.HashKey), minHashKey)
	}
	v.hashKey = append([]byte(nil), cfg.HashKey...)
	return v, nil
}

// ConfigFromEnv reads the key material from the environment through lookup
// (os.LookupEnv in production).
func ConfigFromEnv(lookup func(string) (string, bool)) (Config, error) {
	var cfg Config
	raw, ok := lookup(EnvKeys)
	if !ok || strings.TrimSpace(raw) == "" {
		return cfg, fmt.Errorf("%w: %s is not set", ErrConfig, EnvKeys)
	}
	keys, err := ParseKeys(raw)
	if err != nil {
		return cfg, err
	}
	cfg.Keys = keys
	cur, ok := lookup(EnvCurrentKey)
	if ok && cur != "" {
		id, err := strconv.ParseUint(cur, 10, 32)
		if err != nil {
			return cfg, fmt.Errorf("%w: %s: %q is not a key id", ErrConfig, EnvCurrentKey, cur)
		}
		cfg.CurrentKeyID = uint32(id)
	} else {
		// Default: the highest id, the newest key.
		ids := make([]int, 0, len(keys))
		for id := range keys {
			ids = append(ids, int(id))
		}
		sort.Ints(ids)
		cfg.CurrentKeyID = uint32(ids[len(ids)-1])
	}
	hk, ok := lookup(EnvHashKey)
	if !ok || hk == "" {
		return cfg, fmt.Errorf("%w: %s is not set", ErrConfig, EnvHashKey)
	}
	cfg.HashKey, err = base64.StdEncoding.DecodeString(strings.TrimSpace(hk))
	if err != nil {
		return cfg, fmt.Errorf("%w: %s is not base64", ErrConfig, EnvHashKey)
	}
	return cfg, nil
}

// ParseKeys parses "id:base64,id:base64" into a key map. Errors never
// contain key material.
func ParseKeys(s string) (map[uint32][]byte, error) {
	keys := make(map[uint32][]byte)
	for i, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		idStr, b64, ok := strings.Cut(part, ":")
		if !ok {
			return nil, fmt.Errorf("%w: %s: entry %d is not id:base64", ErrConfig, EnvKeys, i+1)
		}
		id, err := strconv.ParseUint(strings.TrimSpace(idStr), 10, 32)
		if err != nil || id == 0 {
			return nil, fmt.Errorf("%w: %s: entry %d has a bad key id", ErrConfig, EnvKeys, i+1)
		}
		k, err := base64.StdEncoding.DecodeString(strings.TrimSpace(b64))
		if err != nil {
			return nil, fmt.Errorf("%w: %s: key %d is not base64", ErrConfig, EnvKeys, id)
		}
		if _, dup := keys[uint32(id)]; dup {
			return nil, fmt.Errorf("%w: %s: key %d given twice", ErrConfig, EnvKeys, id)
		}
		keys[uint32(id)] = k
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%w: %s: no keys", ErrConfig, EnvKeys)
	}
	return keys, nil
}

// CurrentKeyID is the id new data is sealed with.
func (v *Vault) CurrentKeyID() uint32 { return v.current }

// Seal encrypts pan and expiry under the current key. aad binds the
// ciphertext to its record (the payment id), so that a ciphertext copied to
// another row does not open.
func (v *Vault) Seal(aad, pan, expiry string) (keyID uint32, ciphertext []byte, err error) {
	if !ValidPAN(pan) {
		return 0, nil, fmt.Errorf("%w: PAN must be 12-19 digits", ErrCardData)
	}
	if expiry != "" && (len(expiry) != expiryLen || !allDigits(expiry)) {
		return 0, nil, fmt.Errorf("%w: expiry must be YYMM", ErrCardData)
	}
	aead := v.aeads[v.current]
	pt := make([]byte, 0, 2+len(pan)+len(expiry))
	pt = append(pt, plaintextVersion, byte(len(pan)))
	pt = append(pt, pan...)
	pt = append(pt, expiry...)
	nonce := make([]byte, nonceLength, nonceLength+len(pt)+aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return 0, nil, fmt.Errorf("cardvault: reading nonce: %w", err)
	}
	ct := aead.Seal(nonce, nonce, pt, []byte(aad))
	clear(pt)
	return v.current, ct, nil
}

// Open decrypts a ciphertext sealed under keyID with aad.
func (v *Vault) Open(aad string, keyID uint32, ciphertext []byte) (pan, expiry string, err error) {
	aead, ok := v.aeads[keyID]
	if !ok {
		return "", "", fmt.Errorf("%w: %d", ErrUnknownKey, keyID)
	}
	if len(ciphertext) < nonceLength+aead.Overhead() || len(ciphertext) > maxSealed {
		return "", "", fmt.Errorf("%w: bad length", ErrDecrypt)
	}
	pt, err := aead.Open(nil, ciphertext[:nonceLength], ciphertext[nonceLength:], []byte(aad))
	if err != nil {
		return "", "", ErrDecrypt
	}
	defer clear(pt)
	if len(pt) < 2 || pt[0] != plaintextVersion {
		return "", "", fmt.Errorf("%w: unknown plaintext version", ErrDecrypt)
	}
	n := int(pt[1])
	if 2+n > len(pt) {
		return "", "", fmt.Errorf("%w: bad plaintext length", ErrDecrypt)
	}
	return string(pt[2 : 2+n]), string(pt[2+n:]), nil
}

// Reseal re-encrypts a ciphertext under the current key (key rotation). It
// returns the input unchanged when it is already under the current key.
func (v *Vault) Reseal(aad string, keyID uint32, ciphertext []byte) (uint32, []byte, error) {
	if keyID == v.current {
		return keyID, ciphertext, nil
	}
	pan, exp, err := v.Open(aad, keyID, ciphertext)
	if err != nil {
		return 0, nil, err
	}
	return v.Seal(aad, pan, exp)
}

// Hash is the hex HMAC-SHA256 of the PAN under the hash key: equal PANs
// hash equal, so it serves look-ups and per-card limits, but it cannot be
// reversed without the key.
func (v *Vault) Hash(pan string) string {
	m := hmac.New(sha256.New, v.hashKey)
	m.Write([]byte(pan))
	return hex.EncodeToString(m.Sum(nil))
}

// ValidPAN reports whether s is 12-19 digits (the Luhn check is the API's
// business; stored PANs are whatever the card really is).
func ValidPAN(s string) bool {
	return len(s) >= minPANLen && len(s) <= maxPANLen && allDigits(s)
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
