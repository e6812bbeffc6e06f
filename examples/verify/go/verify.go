// Package wxloginverify verifies wxlogin access tokens in a Go backend with golang-jwt,
// offline: the public keys come from the server's JWKS, fetched once, cached, and fetched
// again when a token names a key id the cache does not have (a key rotation), at most once
// per RefetchCooldown so that made-up key ids cannot turn into a stream of fetches.
//
// Why each check: the algorithm list is the two the server signs with (ES256, EdDSA), so a
// token cannot choose `none` or an HMAC keyed with a public key; the key is the one `kid`
// names, and it is used only when its type is the token's `alg`. `iss` must be the
// server's --issuer and `aud` this backend's appid, or a token from another deployment or
// for another mini program would pass; Leeway allows for small clock differences between
// the machines, nothing more.
package wxloginverify

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// AcceptedAlgorithms are the algorithms wxlogin signs access tokens with.
var AcceptedAlgorithms = []string{"ES256", "EdDSA"}

// DefaultLeeway is the clock tolerance recommended between the server and a backend.
const DefaultLeeway = 30 * time.Second

// Claims of a wxlogin access token.
type Claims struct {
	jwt.RegisteredClaims
	// SessionID is the login session the token belongs to (`sid`).
	SessionID string `json:"sid"`
	// Roles are the user's roles; absent when the user has none.
	Roles []string `json:"roles,omitempty"`
}

// Config says which tokens a Verifier trusts.
type Config struct {
	JWKSURL  string // e.g. https://login.example.com/.well-known/jwks.json
	Issuer   string // the server's --issuer
	Audience string // the appid this backend serves
	// Leeway is the clock tolerance for exp and iat; zero means none (DefaultLeeway is
	// the recommended value).
	Leeway time.Duration
	// RefetchCooldown is the least time between two JWKS fetches caused by unknown key
	// ids; zero means 30 s.
	RefetchCooldown time.Duration
	// CacheMaxAge is how long fetched keys are used without asking again; zero means 5 min.
	CacheMaxAge time.Duration
	// HTTPClient fetches the JWKS; nil means one with a 5 s timeout.
	HTTPClient *http.Client
}

// ErrRefused wraps every reason a token is not trusted: answer 401.
var ErrRefused = errors.New("access token refused")

// Verifier checks access tokens; make one per (server, appid) and keep it, so that its key
// cache lives. It is safe for concurrent use.
type Verifier struct {
	keys   *keySet
	parser *jwt.Parser
}

// New returns a Verifier for the tokens that config describes.
func New(config Config) (*Verifier, error) {
	if config.JWKSURL == "" || config.Issuer == "" || config.Audience == "" {
		return nil, errors.New("JWKSURL, Issuer and Audience are all required")
	}
	client := config.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: 5 * time.Second}
	}
	return &Verifier{
		keys: newKeySet(config.JWKSURL, client, orDefault(config.RefetchCooldown, 30*time.Second),
			orDefault(config.CacheMaxAge, 5*time.Minute)),
		parser: jwt.NewParser(
			jwt.WithValidMethods(AcceptedAlgorithms),
			jwt.WithIssuer(config.Issuer),
			jwt.WithAudience(config.Audience),
			jwt.WithExpirationRequired(),
			jwt.WithIssuedAt(),
			jwt.WithLeeway(config.Leeway),
		),
	}, nil
}

// Verify returns the token's claims (Subject is the user id, Audience the appid), or an
// error wrapping ErrRefused (and golang-jwt's reason, e.g. jwt.ErrTokenExpired).
func (v *Verifier) Verify(ctx context.Context, token string) (*Claims, error) {
	claims := &Claims{}
	_, err := v.parser.ParseWithClaims(token, claims, func(parsed *jwt.Token) (any, error) {
		kid, _ := parsed.Header["kid"].(string)
		key, err := v.keys.lookup(ctx, kid)
		if err != nil {
			return nil, err
		}
		if key.alg != parsed.Method.Alg() {
			return nil, fmt.Errorf("token alg %q does not fit key %q (%s)", parsed.Method.Alg(), kid, key.alg)
		}
		return key.key, nil
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrRefused, err)
	}
	if claims.Subject == "" || claims.SessionID == "" {
		return nil, fmt.Errorf("%w: sub or sid missing", ErrRefused)
	}
	return claims, nil
}

func orDefault(value, fallback time.Duration) time.Duration {
	if value == 0 {
		return fallback
	}
	return value
}
