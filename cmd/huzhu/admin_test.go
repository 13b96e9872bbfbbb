package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"huzhu/handler"
)

// adminCLI runs the command tree with the admin command, whether or not root.go lists it yet.
func adminCLI(t *testing.T, getenv func(string) string, stdin string, args ...string) (string, error) {
	t.Helper()
	e := &env{getenv: getenv, stdin: strings.NewReader(stdin), stdout: &bytes.Buffer{}, stderr: io.Discard}
	root := newRoot(e)
	if c, _, err := root.Find([]string{"admin"}); err != nil || c == root {
		root.AddCommand(adminCmd(e))
	}
	root.SetArgs(args)
	root.SetIn(e.stdin)
	root.SetOut(e.stdout)
	root.SetErr(io.Discard)
	err := root.ExecuteContext(context.Background())
	return e.stdout.(*bytes.Buffer).String(), err
}

func TestAdminCreateUser(t *testing.T) {
	getenv := testEnv(t, nil)
	pwFile := filepath.Join(t.TempDir(), "pw.txt")
	if err := os.WriteFile(pwFile, []byte("from a file 123\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		stdin   string
		args    []string
		wantOut string
		wantErr string
	}{
		{"admin from stdin", "s3cret password\n", []string{"--username", "root", "--role", "admin", "--display-name", "市总管理员"}, "created staff account root", ""},
		{"a second admin needs --as", "s3cret password\n", []string{"--username", "root2", "--role", "admin"}, "", "已经有市总管理员了"},
		{"operator from file", "", []string{"--as", "root", "--username", "op", "--role", "operator", "--password-file", pwFile}, "created staff account op", ""},
		{"an operator may not create accounts", "s3cret password\n", []string{"--as", "op", "--username", "y", "--role", "auditor"}, "", "只有市总管理员可以管理账号"},
		{"unknown --as", "s3cret password\n", []string{"--as", "nobody", "--username", "y", "--role", "auditor"}, "", "没有启用中的工作人员账号"},
		{"no password", "", []string{"--username", "x", "--role", "admin"}, "", "no password"},
		{"short password", "short\n", []string{"--username", "x", "--role", "admin"}, "", "密码至少"},
		{"taken", "s3cret password\n", []string{"--as", "root", "--username", "root", "--role", "auditor"}, "", "已经有人用了"},
		{"union needs a known code", "s3cret password\n", []string{"--as", "root", "--username", "u", "--role", "union", "--union-code", "NOPE"}, "", "没有这个工会编码"},
		{"missing role", "s3cret password\n", []string{"--username", "x"}, "", "role"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := adminCLI(t, getenv, tc.stdin, append([]string{"admin", "create-user"}, tc.args...)...)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("create-user %v = %v, want error containing %q", tc.args, err, tc.wantErr)
				}
				return
			}
			if err != nil || !strings.Contains(out, tc.wantOut) {
				t.Errorf("create-user %v = %q, %v; want %q", tc.args, out, err, tc.wantOut)
			}
		})
	}
}

// TestMountAdmin mounts the console the way serve does and signs in with a CLI-made account.
func TestMountAdmin(t *testing.T) {
	getenv := testEnv(t, nil)
	if _, err := adminCLI(t, getenv, "s3cret password\n", "admin", "create-user", "--username", "root", "--role", "admin"); err != nil {
		t.Fatal(err)
	}
	e := &env{getenv: getenv, stdin: strings.NewReader(""), stdout: io.Discard, stderr: io.Discard}
	if err := e.load(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.close)
	app := handler.New(handler.Options{})
	if err := e.mountAdmin(context.Background(), app); err != nil {
		t.Fatalf("mountAdmin: %v", err)
	}
	res, err := app.Test(httptest.NewRequest(http.MethodGet, "/admin/login", nil), -1)
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("GET /admin/login = %v, %v", res, err)
	}
	body, _ := io.ReadAll(res.Body)
	if !strings.Contains(string(body), "职工医疗互助管理后台") {
		t.Errorf("login page: %.300s", body)
	}
	var csrf string
	for _, c := range res.Cookies() {
		if c.Name == "huzhu_admin_login" {
			csrf = c.Value
		}
	}
	req := httptest.NewRequest(http.MethodPost, "/admin/login", strings.NewReader("username=root&password=s3cret+password&_csrf="+csrf))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(&http.Cookie{Name: "huzhu_admin_login", Value: csrf})
	res, err = app.Test(req, -1)
	if err != nil || res.StatusCode != http.StatusSeeOther {
		t.Fatalf("login = %v, %v", res.StatusCode, err)
	}
	for _, c := range res.Cookies() {
		if c.Name == "huzhu_admin" && c.Secure {
			t.Errorf("session cookie is Secure on an http public_url")
		}
	}
}
