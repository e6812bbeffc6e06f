package wxloginverify

// Both algorithms the server can sign with, and a key rotation, against a JWKS this test
// serves itself: the verifier takes ES256 and EdDSA by the key that `kid` names, refuses a
// token whose `alg` does not fit that key, and fetches the JWKS again when a token names a
// key it has not seen (a rotation), whatever the server binary signs with.

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const (
	localIssuer   = "verify-go-local"
	localAudience = "wx0000000000local"
)

type localKeys struct {
	mu        sync.Mutex
	published []map[string]string
	private   map[string]crypto.Signer
	fetches   atomic.Int32
	server    *httptest.Server
}

func newLocalKeys(t *testing.T) *localKeys {
	keys := &localKeys{private: map[string]crypto.Signer{}}
	keys.server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		keys.fetches.Add(1)
		keys.mu.Lock()
		defer keys.mu.Unlock()
		w.Header().Set("content-type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": keys.published})
	}))
	t.Cleanup(keys.server.Close)
	return keys
}

func (k *localKeys) make(t *testing.T, alg, kid string, publish bool) {
	var jwk map[string]string
	var signer crypto.Signer
	switch alg {
	case "ES256":
		private, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		point, _ := private.PublicKey.Bytes() // 0x04 || x || y
		jwk = map[string]string{"kty": "EC", "crv": "P-256", "x": b64.EncodeToString(point[1:33]), "y": b64.EncodeToString(point[33:])}
		signer = private
	case "EdDSA":
		public, private, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		jwk = map[string]string{"kty": "OKP", "crv": "Ed25519", "x": b64.EncodeToString(public)}
		signer = private
	}
	jwk["kid"], jwk["alg"], jwk["use"] = kid, alg, "sig"
	k.mu.Lock()
	defer k.mu.Unlock()
	k.private[kid] = signer
	if publish {
		k.published = append(k.published, jwk)
	}
}

func (k *localKeys) sign(t *testing.T, kid string, edit func(*Claims)) string {
	now := time.Now()
	claims := &Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer: localIssuer, Audience: jwt.ClaimStrings{localAudience}, Subject: "user-1",
			IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(5 * time.Minute)),
		},
		SessionID: "session-1",
	}
	if edit != nil {
		edit(claims)
	}
	k.mu.Lock()
	signer := k.private[kid]
	k.mu.Unlock()
	method := jwt.SigningMethod(jwt.SigningMethodEdDSA)
	if _, ok := signer.(*ecdsa.PrivateKey); ok {
		method = jwt.SigningMethodES256
	}
	token := jwt.NewWithClaims(method, claims)
	token.Header["kid"] = kid
	signed, err := token.SignedString(signer)
	if err != nil {
		t.Fatal(err)
	}
	return signed
}

func (k *localKeys) verifier(t *testing.T, cooldown time.Duration) *Verifier {
	verifier, err := New(Config{JWKSURL: k.server.URL, Issuer: localIssuer, Audience: localAudience,
		Leeway: DefaultLeeway, RefetchCooldown: cooldown})
	if err != nil {
		t.Fatal(err)
	}
	return verifier
}

func TestES256AndEdDSATokensBothVerifyByTheKeyTheirKidNames(t *testing.T) {
	keys := newLocalKeys(t)
	keys.make(t, "ES256", "ec-1", true)
	keys.make(t, "EdDSA", "ed-1", true)
	verifier := keys.verifier(t, 0)
	claims, err := verifier.Verify(context.Background(), keys.sign(t, "ec-1", func(c *Claims) { c.Roles = []string{"admin"} }))
	if err != nil || claims.Subject != "user-1" || !slices.Equal(claims.Roles, []string{"admin"}) {
		t.Fatalf("ES256: %+v, %v", claims, err)
	}
	if claims, err := verifier.Verify(context.Background(), keys.sign(t, "ed-1", nil)); err != nil || claims.SessionID != "session-1" {
		t.Fatalf("EdDSA: %+v, %v", claims, err)
	}
}

func TestATokenWhoseAlgDoesNotFitItsKidsKeyIsRefused(t *testing.T) {
	keys := newLocalKeys(t)
	keys.make(t, "ES256", "ec-1", true)
	keys.make(t, "EdDSA", "ed-1", true)
	verifier := keys.verifier(t, 0)
	// Signed with the Ed25519 key but naming the P-256 key.
	parts := strings.Split(keys.sign(t, "ed-1", nil), ".")
	header, _ := json.Marshal(map[string]string{"alg": "EdDSA", "kid": "ec-1"})
	_, err := verifier.Verify(context.Background(), b64.EncodeToString(header)+"."+parts[1]+"."+parts[2])
	mustRefuse(t, err, nil, `token alg "EdDSA" does not fit key "ec-1" (ES256)`)
	_, err = verifier.Verify(context.Background(), keys.sign(t, "ec-1", func(c *Claims) { c.ExpiresAt = nil }))
	mustRefuse(t, err, jwt.ErrTokenRequiredClaimMissing, "")
	_, err = verifier.Verify(context.Background(), keys.sign(t, "ec-1", func(c *Claims) { c.SessionID = "" }))
	mustRefuse(t, err, nil, "sub or sid missing")
}

func TestAKeyPublishedAfterTheFirstFetchIsFetchedWhenATokenNamesIt(t *testing.T) {
	keys := newLocalKeys(t)
	keys.make(t, "ES256", "ec-1", true)
	verifier := keys.verifier(t, time.Nanosecond)
	if _, err := verifier.Verify(context.Background(), keys.sign(t, "ec-1", nil)); err != nil {
		t.Fatal(err)
	}
	before := keys.fetches.Load()
	keys.make(t, "ES256", "ec-2", true)
	if _, err := verifier.Verify(context.Background(), keys.sign(t, "ec-2", nil)); err != nil {
		t.Fatal(err)
	}
	if got := keys.fetches.Load(); got != before+1 {
		t.Fatalf("%d fetches for one new key, want 1", got-before)
	}
	keys.make(t, "ES256", "never-published", false)
	_, err := verifier.Verify(context.Background(), keys.sign(t, "never-published", nil))
	mustRefuse(t, err, jwt.ErrTokenUnverifiable, `no key "never-published" in the JWKS`)
}

func TestUnknownKidsWithinTheCooldownCauseNoFetch(t *testing.T) {
	keys := newLocalKeys(t)
	keys.make(t, "ES256", "ec-1", true)
	keys.make(t, "ES256", "made-up", false)
	verifier := keys.verifier(t, time.Hour)
	if _, err := verifier.Verify(context.Background(), keys.sign(t, "ec-1", nil)); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		_, err := verifier.Verify(context.Background(), keys.sign(t, "made-up", nil))
		mustRefuse(t, err, nil, "no key")
	}
	if got := keys.fetches.Load(); got != 1 {
		t.Fatalf("%d fetches, want 1", got)
	}
}
