// Command wxlogin-verify checks one wxlogin access token and prints its claims as JSON:
//
//	wxlogin-verify -jwks URL -issuer ISS -audience APPID TOKEN
//
// It exits 1 with the reason on stderr when the token is refused.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"

	wxloginverify "wxlogin-verify"
)

func main() {
	jwksURL := flag.String("jwks", "", "the server's JWKS URL")
	issuer := flag.String("issuer", "", "the server's --issuer")
	audience := flag.String("audience", "", "the appid this backend serves")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: wxlogin-verify -jwks URL -issuer ISS -audience APPID TOKEN")
		os.Exit(2)
	}
	verifier, err := wxloginverify.New(wxloginverify.Config{
		JWKSURL: *jwksURL, Issuer: *issuer, Audience: *audience, Leeway: wxloginverify.DefaultLeeway,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	claims, err := verifier.Verify(context.Background(), flag.Arg(0))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	_ = json.NewEncoder(os.Stdout).Encode(claims)
}
