package banklink

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// testPKI is a CA with a server and a client certificate, written to a
// temporary directory as PEM files.
type testPKI struct {
	caFile, clientCert, clientKey string
	server                        tls.Certificate
	pool                          *x509.CertPool
}

func newTestPKI(t *testing.T, serverName string) testPKI {
	t.Helper()
	dir := t.TempDir()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "test bank CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	issue := func(serial int64, cn string, usage x509.ExtKeyUsage, dns []string) ([]byte, *ecdsa.PrivateKey) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		der, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{
			SerialNumber: big.NewInt(serial),
			Subject:      pkix.Name{CommonName: cn},
			DNSNames:     dns,
			NotBefore:    time.Now().Add(-time.Hour),
			NotAfter:     time.Now().Add(time.Hour),
			KeyUsage:     x509.KeyUsageDigitalSignature,
			ExtKeyUsage:  []x509.ExtKeyUsage{usage},
		}, caCert, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		return der, key
	}
	write := func(name, typ string, der []byte) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	srvDER, srvKey := issue(2, serverName, x509.ExtKeyUsageServerAuth, []string{serverName})
	cliDER, cliKey := issue(3, "processor-switch", x509.ExtKeyUsageClientAuth, nil)
	cliKeyDER, err := x509.MarshalECPrivateKey(cliKey)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(caCert)
	return testPKI{
		caFile:     write("ca.pem", "CERTIFICATE", caDER),
		clientCert: write("client.pem", "CERTIFICATE", cliDER),
		clientKey:  write("client-key.pem", "EC PRIVATE KEY", cliKeyDER),
		server:     tls.Certificate{Certificate: [][]byte{srvDER}, PrivateKey: srvKey},
		pool:       pool,
	}
}

func TestMutualTLS(t *testing.T) {
	pki := newTestPKI(t, "bank-a.test")
	d := testDialect(t, dialectA)
	clientCN := make(chan string, 4)
	p := newPeer(t, d, &tls.Config{
		Certificates: []tls.Certificate{pki.server},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pki.pool,
		MinVersion:   tls.VersionTLS12,
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) > 0 {
				clientCN <- cs.PeerCertificates[0].Subject.CommonName
			}
			return nil
		},
	})
	cfg := testConfig("alfa", dialectA, p.addr)
	cfg.Connections = 1
	cfg.TLS = TLSConfig{Enabled: true, CAFile: pki.caFile, CertFile: pki.clientCert, KeyFile: pki.clientKey, ServerName: "bank-a.test"}
	l := openLink(t, cfg, d)
	resp, err := send(t, l, purchase(t, d, "0200", ""))
	if err != nil || fieldOf(resp, 39) != "00" {
		t.Fatalf("send over TLS: DE39 %q, err %v", fieldOf(resp, 39), err)
	}
	if cn := <-clientCN; cn != "processor-switch" {
		t.Fatalf("bank saw client certificate %q", cn)
	}
}

func TestTLSRejectsUntrustedBank(t *testing.T) {
	pki := newTestPKI(t, "bank-a.test")
	d := testDialect(t, dialectA)
	p := newPeer(t, d, &tls.Config{Certificates: []tls.Certificate{pki.server}, MinVersion: tls.VersionTLS12})
	cfg := testConfig("alfa", dialectA, p.addr)
	cfg.Connections = 1
	cfg.TLS = TLSConfig{Enabled: true, ServerName: "bank-a.test"} // system roots: the test CA is not trusted
	l, err := Open(cfg, d)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close(context.Background())
	waitFor(t, 3*time.Second, "several handshake attempts", func() bool { return p.accepted.Load() >= 2 })
	if l.Usable() {
		t.Fatal("link usable with an untrusted bank certificate")
	}
}

func TestTLSConfigFileErrorsNameKey(t *testing.T) {
	d := testDialect(t, dialectA)
	cfg := testConfig("alfa", dialectA, "127.0.0.1:1")
	cfg.TLS = TLSConfig{Enabled: true, CAFile: filepath.Join(t.TempDir(), "missing.pem")}
	if _, err := Open(cfg, d); err == nil || !strings.Contains(err.Error(), "tls.ca_file") {
		t.Fatalf("Open with missing CA file: %v, want error naming tls.ca_file", err)
	}
}
