package wxloginverify

// The JWKS cache: the server publishes every key that still verifies live tokens, so a
// key id missing here means a rotation happened since the last fetch (fetch again) or a
// forged token (refuse, without a fetch per token: hence the cooldown).

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"
)

type publicKey struct {
	alg string
	key any
}

type keySet struct {
	url      string
	client   *http.Client
	cooldown time.Duration
	maxAge   time.Duration

	mu        sync.Mutex
	keys      map[string]publicKey
	fetchedAt time.Time
}

func newKeySet(url string, client *http.Client, cooldown, maxAge time.Duration) *keySet {
	return &keySet{url: url, client: client, cooldown: cooldown, maxAge: maxAge}
}

func (s *keySet) lookup(ctx context.Context, kid string) (publicKey, error) {
	if kid == "" {
		return publicKey{}, errors.New("token has no kid")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var fetchErr error
	if s.keys == nil || time.Since(s.fetchedAt) >= s.maxAge {
		// A failed refresh keeps the keys already known: they still verify live tokens.
		fetchErr = s.fetch(ctx)
	}
	if key, ok := s.keys[kid]; ok {
		return key, nil
	}
	if fetchErr == nil && time.Since(s.fetchedAt) >= s.cooldown {
		fetchErr = s.fetch(ctx)
		if key, ok := s.keys[kid]; ok {
			return key, nil
		}
	}
	if fetchErr != nil {
		return publicKey{}, fmt.Errorf("fetching the JWKS: %w", fetchErr)
	}
	return publicKey{}, fmt.Errorf("no key %q in the JWKS", kid)
}

func (s *keySet) fetch(ctx context.Context) error {
	s.fetchedAt = time.Now()
	request, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url, nil)
	if err != nil {
		return err
	}
	answer, err := s.client.Do(request)
	if err != nil {
		return err
	}
	defer answer.Body.Close()
	if answer.StatusCode != http.StatusOK {
		return fmt.Errorf("%s answered %s", s.url, answer.Status)
	}
	var set struct {
		Keys []jwk `json:"keys"`
	}
	if err := json.NewDecoder(io.LimitReader(answer.Body, 1<<20)).Decode(&set); err != nil {
		return fmt.Errorf("%s: %w", s.url, err)
	}
	keys := make(map[string]publicKey, len(set.Keys))
	for _, entry := range set.Keys {
		// Keys of other kinds or uses are skipped: they can never verify an access token.
		if key, ok := entry.publicKey(); ok && entry.Kid != "" {
			keys[entry.Kid] = key
		}
	}
	s.keys = keys
	return nil
}

type jwk struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	Kid string `json:"kid"`
	Alg string `json:"alg"`
	Use string `json:"use"`
	X   string `json:"x"`
	Y   string `json:"y"`
}

func (k jwk) publicKey() (publicKey, bool) {
	if k.Use != "" && k.Use != "sig" {
		return publicKey{}, false
	}
	x, err := base64.RawURLEncoding.DecodeString(k.X)
	if err != nil {
		return publicKey{}, false
	}
	var key publicKey
	switch {
	case k.Kty == "OKP" && k.Crv == "Ed25519" && len(x) == ed25519.PublicKeySize:
		key = publicKey{alg: "EdDSA", key: ed25519.PublicKey(x)}
	case k.Kty == "EC" && k.Crv == "P-256":
		y, err := base64.RawURLEncoding.DecodeString(k.Y)
		if err != nil || len(x) != 32 || len(y) != 32 {
			return publicKey{}, false
		}
		point := append(append([]byte{4}, x...), y...)
		parsed, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), point)
		if err != nil {
			return publicKey{}, false
		}
		key = publicKey{alg: "ES256", key: parsed}
	default:
		return publicKey{}, false
	}
	if k.Alg != "" && k.Alg != key.alg {
		return publicKey{}, false
	}
	return key, true
}
