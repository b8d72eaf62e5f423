package banksim

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"testing"
	"time"

	"github.com/acquirer/h2hswitch/simulators/wire"
)

func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "bank-b-host"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:    x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pool
}

func TestTLS(t *testing.T) {
	cert, pool := selfSigned(t)
	s := startSim(t, wire.DialectBinary, func(c *Config) {
		c.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	})
	// TLS 1.1 is refused.
	if nc, err := tls.Dial("tcp", s.Addr(), &tls.Config{RootCAs: pool, MaxVersion: tls.VersionTLS11}); err == nil {
		nc.Close()
		t.Fatal("TLS 1.1 handshake succeeded")
	}
	nc, err := tls.Dial("tcp", s.Addr(), &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	codec := mustCodec(wire.DialectBinary)
	c := &client{codec: codec}
	frame, err := codec.AppendFrame(nil, c.network("001"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := nc.Write(frame); err != nil {
		t.Fatal(err)
	}
	_ = nc.SetReadDeadline(time.Now().Add(2 * time.Second))
	body, err := codec.ReadFrame(bufio.NewReader(nc), nil)
	if err != nil {
		t.Fatal(err)
	}
	var m wire.Msg
	if err := codec.Decode(body, &m); err != nil || m.MTI() != "0810" || m.Get(39) != "00" {
		t.Fatalf("sign-on over TLS: %s %q %v", m.MTI(), m.Get(39), err)
	}
	if _, err := New(Config{Dialect: wire.DialectBinary, TLSCertFile: "x.pem"}); err == nil {
		t.Fatal("cert without key accepted")
	}
}
