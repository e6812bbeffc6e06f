package wxloginverify

// Starts a real `wxlogin serve --sim` for the recipe's tests and logs a user in through its
// simulator, the way a mini program would, so the tokens verified are the server's own.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

func wxloginBin() string {
	if bin := os.Getenv("WXLOGIN_BIN"); bin != "" {
		return bin
	}
	return "wxlogin"
}

// selectableAlgorithms: both once the binary has --access-token-alg, else only its
// built-in one ("" below).
func selectableAlgorithms(t *testing.T) []string {
	help, err := exec.Command(wxloginBin(), "serve", "--help").Output()
	if err != nil {
		t.Fatalf("%s serve --help: %v", wxloginBin(), err)
	}
	if strings.Contains(string(help), "--access-token-alg") {
		return []string{"ES256", "EdDSA"}
	}
	return []string{""}
}

type server struct {
	issuer, alg, url, simURL, appid string
}

func (s *server) jwksURL() string { return s.url + "/.well-known/jwks.json" }

var startPatterns = map[string]*regexp.Regexp{
	"url":   regexp.MustCompile(`listening on (http://\S+)`),
	"sim":   regexp.MustCompile(`simulator on (http://\S+)`),
	"appid": regexp.MustCompile(`demo appid (\S+)`),
}

func startServer(t *testing.T, issuer, alg string, accessTokenTTL int) *server {
	t.Helper()
	dir := t.TempDir()
	args := []string{"serve", "--sim", "--listen", "127.0.0.1:0",
		"--database-url", "sqlite://" + filepath.Join(dir, "db.sqlite"), "--issuer", issuer}
	if alg != "" {
		args = append(args, "--access-token-alg", alg)
	}
	if accessTokenTTL > 0 {
		args = append(args, "--access-token-ttl", strconv.Itoa(accessTokenTTL))
	}
	cmd := exec.Command(wxloginBin(), args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
	})
	found := make(chan map[string]string, 1)
	go func() {
		values := map[string]string{}
		lines := bufio.NewScanner(stdout)
		for lines.Scan() {
			for name, pattern := range startPatterns {
				if match := pattern.FindStringSubmatch(lines.Text()); match != nil {
					values[name] = match[1]
				}
			}
			if len(values) == len(startPatterns) {
				found <- values
				break
			}
		}
		for lines.Scan() { // keep reading so the server never blocks on a full pipe
		}
	}()
	select {
	case values := <-found:
		return &server{issuer: issuer, alg: alg, url: values["url"], simURL: values["sim"], appid: values["appid"]}
	case <-time.After(20 * time.Second):
		t.Fatalf("wxlogin did not start in 20 s:\n%s", stderr.String())
		return nil
	}
}

type loginAnswer struct {
	AccessToken string `json:"access_token"`
	User        struct {
		ID string `json:"id"`
	} `json:"user"`
}

func (s *server) login(t *testing.T, user string) loginAnswer {
	t.Helper()
	var code struct {
		Code string `json:"code"`
	}
	postJSON(t, s.simURL+"/sim/login", map[string]string{"appid": s.appid, "user": user}, &code)
	var answer loginAnswer
	postJSON(t, s.url+"/v1/login", map[string]string{"code": code.Code}, &answer)
	return answer
}

func (s *server) jwks(t *testing.T) []map[string]string {
	t.Helper()
	answer, err := http.Get(s.jwksURL())
	if err != nil {
		t.Fatal(err)
	}
	defer answer.Body.Close()
	var set struct {
		Keys []map[string]string `json:"keys"`
	}
	if err := json.NewDecoder(answer.Body).Decode(&set); err != nil {
		t.Fatal(err)
	}
	return set.Keys
}

func postJSON(t *testing.T, url string, body, into any) {
	t.Helper()
	encoded, _ := json.Marshal(body)
	answer, err := http.Post(url, "application/json", bytes.NewReader(encoded))
	if err != nil {
		t.Fatal(err)
	}
	defer answer.Body.Close()
	if answer.StatusCode != http.StatusOK {
		t.Fatalf("POST %s answered %s", url, answer.Status)
	}
	if err := json.NewDecoder(answer.Body).Decode(into); err != nil {
		t.Fatal(err)
	}
}
