package cardvault

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

func key(t testing.TB) []byte {
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}

func vault(t testing.TB) *Vault {
	v, err := New(Config{CurrentKeyID: 1, Keys: map[uint32][]byte{1: key(t)}, HashKey: key(t)})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestSealOpen(t *testing.T) {
	v := vault(t)
	for _, pan := range []string{"4000000000000010", "2200000000000004", "400000000000000000", "4000000000001"} {
		id, ct, err := v.Seal("pay_1", pan, "2812")
		if err != nil {
			t.Fatalf("Seal(%s): %v", MaskPAN(pan), err)
		}
		if id != 1 || bytes.Contains(ct, []byte(pan)) {
			t.Fatalf("Seal: key %d, PAN visible in ciphertext", id)
		}
		got, exp, err := v.Open("pay_1", id, ct)
		if err != nil || got != pan || exp != "2812" {
			t.Fatalf("Open: %s %q %v", MaskPAN(got), exp, err)
		}
		// Same PAN, new nonce: ciphertexts differ.
		_, ct2, _ := v.Seal("pay_1", pan, "2812")
		if bytes.Equal(ct, ct2) {
			t.Fatal("two seals of one PAN are equal (nonce reuse)")
		}
		ct[len(ct)-1] ^= 1
		if _, _, err := v.Open("pay_1", id, ct); !errors.Is(err, ErrDecrypt) {
			t.Fatalf("tampered ciphertext: %v", err)
		}
	}
	if _, _, err := v.Seal("pay_1", "4000000000000010", ""); err != nil {
		t.Fatalf("no expiry (network token without one): %v", err)
	}
	for _, bad := range []struct{ pan, exp string }{{"40000000000", "2812"}, {"4000x00000000010", "2812"}, {"4000000000000010", "28"}, {"4000000000000010", "28a2"}} {
		if _, _, err := v.Seal("p", bad.pan, bad.exp); !errors.Is(err, ErrCardData) {
			t.Errorf("Seal(%q, %q) = %v, want ErrCardData", MaskPAN(bad.pan), bad.exp, err)
		}
	}
	if _, _, err := v.Open("p", 9, make([]byte, 40)); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("unknown key: %v", err)
	}
	for _, n := range []int{0, 5, 27, 500} {
		if _, _, err := v.Open("p", 1, make([]byte, n)); !errors.Is(err, ErrDecrypt) {
			t.Fatalf("ciphertext of %d bytes: %v", n, err)
		}
	}
}

func TestRotation(t *testing.T) {
	k1, k2, hk := key(t), key(t), key(t)
	v1, err := New(Config{CurrentKeyID: 1, Keys: map[uint32][]byte{1: k1}, HashKey: hk})
	if err != nil {
		t.Fatal(err)
	}
	_, ct1, _ := v1.Seal("pay_a", "5100000000000008", "2901")
	v2, err := New(Config{CurrentKeyID: 2, Keys: map[uint32][]byte{1: k1, 2: k2}, HashKey: hk})
	if err != nil {
		t.Fatal(err)
	}
	if pan, _, err := v2.Open("pay_a", 1, ct1); err != nil || pan != "5100000000000008" {
		t.Fatalf("old key after rotation: %v", err)
	}
	id, ct2, err := v2.Reseal("pay_a", 1, ct1)
	if err != nil || id != 2 {
		t.Fatalf("Reseal: %d %v", id, err)
	}
	if pan, exp, err := v2.Open("pay_a", 2, ct2); err != nil || pan != "5100000000000008" || exp != "2901" {
		t.Fatalf("resealed: %v", err)
	}
	if v1.Hash("5100000000000008") != v2.Hash("5100000000000008") {
		t.Fatal("hash changed with the encryption key")
	}
	same, sameCT, err := v2.Reseal("pay_a", 2, ct2)
	if err != nil || same != 2 || !bytes.Equal(sameCT, ct2) {
		t.Fatal("Reseal of current-key data must be a no-op")
	}
}

func TestConfig(t *testing.T) {
	k := key(t)
	bad := []Config{
		{CurrentKeyID: 1, HashKey: k},
		{CurrentKeyID: 1, Keys: map[uint32][]byte{1: k[:16]}, HashKey: k},
		{CurrentKeyID: 2, Keys: map[uint32][]byte{1: k}, HashKey: k},
		{CurrentKeyID: 0, Keys: map[uint32][]byte{0: k}, HashKey: k},
		{CurrentKeyID: 1, Keys: map[uint32][]byte{1: k}, HashKey: k[:8]},
	}
	for i, c := range bad {
		if _, err := New(c); !errors.Is(err, ErrConfig) {
			t.Errorf("config %d: %v, want ErrConfig", i, err)
		}
	}
	b64 := base64.StdEncoding.EncodeToString
	env := map[string]string{
		EnvKeys:    "1:" + b64(key(t)) + ", 3:" + b64(key(t)),
		EnvHashKey: b64(key(t)),
	}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	cfg, err := ConfigFromEnv(lookup)
	if err != nil {
		t.Fatalf("ConfigFromEnv: %v", err)
	}
	if cfg.CurrentKeyID != 3 || len(cfg.Keys) != 2 {
		t.Fatalf("default current key %d of %d keys, want the newest (3)", cfg.CurrentKeyID, len(cfg.Keys))
	}
	if _, err := New(cfg); err != nil {
		t.Fatal(err)
	}
	env[EnvCurrentKey] = "1"
	if cfg, err = ConfigFromEnv(lookup); err != nil || cfg.CurrentKeyID != 1 {
		t.Fatalf("explicit current key: %d %v", cfg.CurrentKeyID, err)
	}
	secret := b64(key(t))
	for _, keys := range []string{"", "1", "x:" + secret, "1:!!!", "1:" + secret + ",1:" + secret} {
		env[EnvKeys] = keys
		_, err := ConfigFromEnv(lookup)
		if !errors.Is(err, ErrConfig) {
			t.Errorf("%s=%q: %v", EnvKeys, keys, err)
		}
		if err != nil && strings.Contains(err.Error(), secret) {
			t.Errorf("error message leaks key material")
		}
	}
}

func TestHash(t *testing.T) {
	v := vault(t)
	h := v.Hash("4000000000000010")
	if len(h) != 64 || h != v.Hash("4000000000000010") || h == v.Hash("4000000000000028") {
		t.Fatalf("hash %q not a stable per-PAN HMAC", h)
	}
	if vault(t).Hash("4000000000000010") == h {
		t.Fatal("hash does not depend on the key")
	}
}
