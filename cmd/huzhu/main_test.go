package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"huzhu/config"
	"huzhu/model"
	"huzhu/service/policy"
	"huzhu/service/store"
)

// syncBuffer is a bytes.Buffer safe to read while the server writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func testEnv(t *testing.T, extra map[string]string) func(string) string {
	dir := t.TempDir()
	m := map[string]string{
		"HUZHU_HTTP_ADDR":             "127.0.0.1:0",
		"HUZHU_DATABASE_SQLITE_PATH":  filepath.Join(dir, "huzhu.db"),
		"HUZHU_SECURITY_DEV_KEY_FILE": filepath.Join(dir, "keys.yaml"),
		"HUZHU_LOG_LEVEL":             "warn",
	}
	for k, v := range extra {
		m[k] = v
	}
	return func(k string) string { return m[k] }
}

// mustStaff creates the staff account username with role in getenv's database, the way an
// installation does: the first admin "root" by bootstrap, the others --as root.
func mustStaff(t *testing.T, getenv func(string) string, username, role string) {
	t.Helper()
	const pw = "a long enough staff password\n"
	if _, err := adminCLI(t, getenv, pw, "admin", "create-user", "--username", "root", "--role", "admin"); err != nil &&
		!strings.Contains(err.Error(), "已经有市总管理员了") {
		t.Fatalf("bootstrap root: %v", err)
	}
	if username == "root" {
		return
	}
	if _, err := adminCLI(t, getenv, pw, "--as", "root", "admin", "create-user", "--username", username, "--role", role); err != nil {
		t.Fatalf("create %s: %v", username, err)
	}
}

var addrRe = regexp.MustCompile(`running at (http://[0-9.:]+)`)

// startServe runs `huzhu serve` in-process and returns its base URL; the server stops when the
// test ends, and the test fails if it did not shut down cleanly.
func startServe(t *testing.T, getenv func(string) string, args ...string) string {
	t.Helper()
	base, _ := startServeOut(t, getenv, args...)
	return base
}

// startServeOut is startServe that also returns what the server printed (read it only after
// start-up: the buffer is written while serving).
func startServeOut(t *testing.T, getenv func(string) string, args ...string) (string, *syncBuffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, append([]string{"serve"}, args...), getenv, strings.NewReader(""), out, io.Discard)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("serve returned %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Error("serve did not shut down within 20 s")
		}
	})
	deadline := time.Now().Add(180 * time.Second) // the demo takes ~50 s under -race on a loaded 2-core machine
	for time.Now().Before(deadline) {
		if m := addrRe.FindStringSubmatch(out.String()); m != nil {
			return m[1], out
		}
		select {
		case err := <-done:
			t.Fatalf("serve exited early: %v\n%s", err, out.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("serve did not start: %s", out.String())
	return "", nil
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestServeAnswersHealthAndReady(t *testing.T) {
	base := startServe(t, testEnv(t, nil))
	if code, body := get(t, base+"/healthz"); code != 200 || !strings.Contains(body, `"ok"`) {
		t.Errorf("/healthz = %d %s", code, body)
	}
	if code, body := get(t, base+"/readyz"); code != 200 || !strings.Contains(body, `"database":"ok"`) {
		t.Errorf("/readyz = %d %s", code, body)
	}
}

func TestBadConfigExitsWithClearError(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"unreachable database", map[string]string{"HUZHU_DATABASE_MYSQL_DSN": "u:pw@tcp(127.0.0.1:1)/x"}, "cannot reach MySQL"},
		{"bad redis address", map[string]string{"HUZHU_REDIS_ADDR": "nohost"}, "redis.addr"},
		{"prod without keys", map[string]string{"HUZHU_ENV": "prod"}, "security.pii_key"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := run(context.Background(), []string{"serve"}, testEnv(t, tc.env), strings.NewReader(""), io.Discard, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("serve err = %v, want it to mention %q", err, tc.want)
			}
			if strings.Contains(err.Error(), ":pw@") {
				t.Errorf("error shows the password: %v", err)
			}
		})
	}
}

func TestMissingConfigFile(t *testing.T) {
	err := run(context.Background(), []string{"version", "-c", "/nonexistent/huzhu.yaml"}, testEnv(t, nil), strings.NewReader(""), io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/huzhu.yaml") {
		t.Fatalf("err = %v", err)
	}
}

// TestServeDemoShowsData is the README's first command: `serve --demo` on a bare machine fills the
// embedded database and the public figures show it. HUZHU_ENV=prod is what the Docker image sets:
// --demo runs in dev all the same, while a plain serve there refuses to start without keys
// (TestBadConfigExitsWithClearError).
func TestServeDemoShowsData(t *testing.T) {
	env := testEnv(t, map[string]string{"HUZHU_ENV": "prod"})
	base := startServe(t, env, "--demo")
	code, body := get(t, base+"/api/v1/stats")
	if code != 200 {
		t.Fatalf("/api/v1/stats = %d %s", code, body)
	}
	var o struct {
		Members  int64  `json:"members"`
		Helped   int64  `json:"helped"`
		PaidFen  int64  `json:"paid_fen"`
		PaidYuan string `json:"paid_yuan"`
		Years    []struct {
			Year int `json:"year"`
		} `json:"years"`
	}
	if err := json.Unmarshal([]byte(body), &o); err != nil {
		t.Fatalf("stats body %s: %v", body, err)
	}
	if o.Members != 240 || o.Helped == 0 || o.PaidFen <= 20065300 || len(o.Years) == 0 {
		t.Errorf("stats = %+v, want the demo's 240 members and payouts beyond the worked example", o)
	}
	if want := fmt.Sprintf("%d.%02d", o.PaidFen/100, o.PaidFen%100); o.PaidYuan != want {
		t.Errorf("paid_yuan = %q, want %q", o.PaidYuan, want)
	}
}

// TestSettleCommand: the command line acts as a named staff member (--as) and obeys the
// console's rules: an operator may not approve the run they computed (four eyes), another
// operator may, an auditor may not settle at all, and nobody unnamed may change anything.
func TestSettleCommand(t *testing.T) {
	env := testEnv(t, nil)
	mustStaff(t, env, "op1", "operator")
	mustStaff(t, env, "op2", "operator")
	mustStaff(t, env, "aud", "auditor")
	var out bytes.Buffer
	if err := run(context.Background(), []string{"settle", "2025-Q1"}, env, strings.NewReader(""), &out, io.Discard); err == nil ||
		!strings.Contains(err.Error(), "--as") {
		t.Errorf("settle without --as = %v, want a request to name the operator", err)
	}
	if err := run(context.Background(), []string{"--as", "aud", "settle", "2025-Q1"}, env, strings.NewReader(""), &out, io.Discard); err == nil ||
		!strings.Contains(err.Error(), "不能进行这项操作") {
		t.Errorf("settle --as an auditor = %v, want refused", err)
	}
	out.Reset()
	if err := run(context.Background(), []string{"--as", "op1", "settle", "2025-Q1"}, env, strings.NewReader(""), &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "2025年第1季度门诊核算完成") || !strings.Contains(out.String(), "huzhu settle approve 1") {
		t.Errorf("settle printed %q", out.String())
	}
	out.Reset()
	if err := run(context.Background(), []string{"--as", "op1", "settle", "approve", "1"}, env, strings.NewReader(""), &out, io.Discard); err == nil ||
		!strings.Contains(err.Error(), "不能审批自己发起的结算批次") {
		t.Errorf("op1 approves the run op1 computed = %q, %v; want refused (four eyes)", out.String(), err)
	}
	if err := run(context.Background(), []string{"--as", "op2", "settle", "approve", "1"}, env, strings.NewReader(""), &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(context.Background(), store.Options{SQLitePath: env("HUZHU_DATABASE_SQLITE_PATH")})
	if err != nil {
		t.Fatal(err)
	}
	var approval model.AuditLog
	if err := db.Where("action = ?", "run.approve").Take(&approval).Error; err != nil || approval.Actor != "op2" ||
		approval.Role != string(model.RoleOperator) || approval.Via != string(model.ViaCLI) {
		t.Errorf("run.approve audit row = %+v, %v; want op2, operator, through the command line", approval, err)
	}
	_ = store.Close(db)
	if !strings.Contains(out.String(), "已审核") {
		t.Errorf("approve printed %q", out.String())
	}
	for _, args := range [][]string{{"--as", "op2", "settle", "2025-Q5"}, {"--as", "op2", "settle", "approve", "x"}, {"--as", "op2", "settle", "approve", "1"}} {
		if err := run(context.Background(), args, env, strings.NewReader(""), io.Discard, io.Discard); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
}

// TestBadStoredPolicyStopsServe: a policy version saved in the database with a ratio above 100%
// stops the service at start with the version and the key named, instead of paying wrongly.
func TestBadStoredPolicyStopsServe(t *testing.T) {
	env := testEnv(t, nil)
	if err := run(context.Background(), []string{"migrate"}, env, strings.NewReader(""), io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(context.Background(), store.Options{SQLitePath: env("HUZHU_DATABASE_SQLITE_PATH")})
	if err != nil {
		t.Fatal(err)
	}
	body := strings.Replace(string(policyVersionYAML(t, "2021")), `"50%"`, `"120%"`, 1)
	if err := db.Create(&model.PolicyVersion{Code: "2021", EffectiveFrom: "2021-07-01", Body: body, CreatedBy: "staff"}).Error; err != nil {
		t.Fatal(err)
	}
	_ = store.Close(db)
	err = run(context.Background(), []string{"serve"}, env, strings.NewReader(""), io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "120%") || !strings.Contains(err.Error(), "2021") {
		t.Fatalf("serve err = %v, want it to name version 2021 and the 120%% ratio", err)
	}
}

// policyVersionYAML returns the shipped version code as one version's YAML, as staff would save it.
func policyVersionYAML(t *testing.T, code string) []byte {
	t.Helper()
	vs, err := policy.ParseYAML(config.PolicyYAML)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vs {
		if v.Code == code {
			b, err := policy.MarshalVersion(v)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
	}
	t.Fatalf("no shipped version %s", code)
	return nil
}
