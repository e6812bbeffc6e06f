package wxloginverify

// The recipe against a real server: its tokens pass, and every token a backend must
// refuse is refused (tampered, another app's, another deployment's, expired, or signed
// with an algorithm outside {ES256, EdDSA}).

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const testIssuer = "verify-go-test"

var b64 = base64.RawURLEncoding

func verifierFor(t *testing.T, s *server, edit func(*Config)) *Verifier {
	t.Helper()
	config := Config{JWKSURL: s.jwksURL(), Issuer: testIssuer, Audience: s.appid, Leeway: DefaultLeeway}
	if edit != nil {
		edit(&config)
	}
	verifier, err := New(config)
	if err != nil {
		t.Fatal(err)
	}
	return verifier
}

func mustRefuse(t *testing.T, err error, reason error, says string) {
	t.Helper()
	if !errors.Is(err, ErrRefused) || (reason != nil && !errors.Is(err, reason)) || !strings.Contains(err.Error(), says) {
		t.Fatalf("want a refusal (%v, %q), got %v", reason, says, err)
	}
}

func TestAgainstARealServer(t *testing.T) {
	for _, alg := range selectableAlgorithms(t) {
		s := startServer(t, testIssuer, alg, 0)
		name := "signed with " + s.jwks(t)[0]["alg"]
		t.Run(name, func(t *testing.T) {
			t.Run("its token verifies and gives its claims", func(t *testing.T) {
				answer := s.login(t, "alice")
				claims, err := verifierFor(t, s, nil).Verify(context.Background(), answer.AccessToken)
				if err != nil {
					t.Fatal(err)
				}
				if claims.Subject != answer.User.ID || claims.Issuer != testIssuer || claims.SessionID == "" ||
					len(claims.Audience) != 1 || claims.Audience[0] != s.appid {
					t.Fatalf("claims %+v", claims)
				}
				// A server told which algorithm to sign with must use it.
				header, _, _ := jwt.NewParser().ParseUnverified(answer.AccessToken, &Claims{})
				if alg := header.Method.Alg(); alg != "ES256" && alg != "EdDSA" || (s.alg != "" && alg != s.alg) {
					t.Fatalf("signed with %s, want %q", alg, s.alg)
				}
			})
			t.Run("a flipped signature byte is refused", func(t *testing.T) {
				parts := strings.Split(s.login(t, "bob").AccessToken, ".")
				signature, _ := b64.DecodeString(parts[2])
				signature[0] ^= 0x01
				_, err := verifierFor(t, s, nil).Verify(context.Background(), parts[0]+"."+parts[1]+"."+b64.EncodeToString(signature))
				mustRefuse(t, err, jwt.ErrTokenSignatureInvalid, "signature is invalid")
			})
			t.Run("a token for another appid is refused", func(t *testing.T) {
				token := s.login(t, "carol").AccessToken
				_, err := verifierFor(t, s, func(c *Config) { c.Audience = "wx00000000000other" }).Verify(context.Background(), token)
				mustRefuse(t, err, jwt.ErrTokenInvalidAudience, "")
			})
			t.Run("a token from another issuer is refused", func(t *testing.T) {
				token := s.login(t, "dave").AccessToken
				_, err := verifierFor(t, s, func(c *Config) { c.Issuer = "someone-else" }).Verify(context.Background(), token)
				mustRefuse(t, err, jwt.ErrTokenInvalidIssuer, "")
			})
			t.Run("alg none and an HMAC keyed with the public key are refused", func(t *testing.T) {
				parts := strings.Split(s.login(t, "erin").AccessToken, ".")
				var header map[string]string
				raw, _ := b64.DecodeString(parts[0])
				_ = json.Unmarshal(raw, &header)
				verifier := verifierFor(t, s, nil)
				none, _ := json.Marshal(map[string]string{"alg": "none", "kid": header["kid"]})
				_, err := verifier.Verify(context.Background(), b64.EncodeToString(none)+"."+parts[1]+".")
				mustRefuse(t, err, nil, "signing method none is invalid")
				hs, _ := json.Marshal(map[string]string{"alg": "HS256", "kid": header["kid"]})
				hsHeader := b64.EncodeToString(hs)
				for _, key := range s.jwks(t) {
					publicJWK, _ := json.Marshal(key)
					x, _ := b64.DecodeString(key["x"])
					for _, secret := range [][]byte{publicJWK, x} {
						mac := hmac.New(sha256.New, secret)
						mac.Write([]byte(hsHeader + "." + parts[1]))
						_, err := verifier.Verify(context.Background(), hsHeader+"."+parts[1]+"."+b64.EncodeToString(mac.Sum(nil)))
						mustRefuse(t, err, nil, "signing method HS256 is invalid")
					}
				}
			})
		})
	}
}

func TestAnExpiredTokenIsRefusedOncePastTheLeeway(t *testing.T) {
	// 2 s, not 1: exp is whole seconds, so a 1 s token issued late in a second can be
	// expired by the time the first check runs.
	s := startServer(t, testIssuer, "", 2)
	token := s.login(t, "frank").AccessToken
	strict := verifierFor(t, s, func(c *Config) { c.Leeway = 0 })
	if _, err := strict.Verify(context.Background(), token); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Second)
	_, err := strict.Verify(context.Background(), token)
	mustRefuse(t, err, jwt.ErrTokenExpired, "")
	// The default leeway still takes it: that is what the leeway is for.
	if _, err := verifierFor(t, s, nil).Verify(context.Background(), token); err != nil {
		t.Fatal(err)
	}
}
