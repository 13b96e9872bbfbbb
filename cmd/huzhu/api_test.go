package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gorm.io/gorm"

	"huzhu/model"
	"huzhu/service/pii"
	"huzhu/service/store"
	"huzhu/service/store/storetest"
	"huzhu/service/wechat/wechattest"
)

const apiTestPIIKey = "api-test-pii-key-0123456789abcdef0123"

// apiServer starts `huzhu serve --demo` against a fake WeChat, on SQLite, or on MySQL and Redis
// when HUZHU_TEST_MYSQL_DSN / HUZHU_TEST_REDIS_ADDR are set, and returns its URL, the fake and
// the database.
func apiServer(t *testing.T) (string, *wechattest.Fake, *gorm.DB) {
	t.Helper()
	fake := wechattest.New(t)
	extra := map[string]string{
		"HUZHU_WECHAT_API_BASE":         fake.URL,
		"HUZHU_WECHAT_MP_APP_ID":        wechattest.MPAppID,
		"HUZHU_WECHAT_MP_APP_SECRET":    wechattest.MPSecret,
		"HUZHU_SECURITY_PII_KEY":        apiTestPIIKey,
		"HUZHU_SECURITY_SESSION_SECRET": "api-test-session-secret-0123456789abcdef",
		"HUZHU_NOTIFY_ENABLED":          "false",
		"HUZHU_DATABASE_MAX_OPEN_CONNS": "32",
		"HUZHU_HTTP_BODY_LIMIT_KB":      "64",
		"HUZHU_BINDING_PROOF":           "wechat_phone",
	}
	var db *gorm.DB
	if storetest.Backend() == "mysql" {
		var opts store.Options
		db, opts = storetest.NewDBWithDSN(t)
		extra["HUZHU_DATABASE_MYSQL_DSN"] = opts.MySQLDSN
	}
	if addr := os.Getenv("HUZHU_TEST_REDIS_ADDR"); addr != "" {
		b := make([]byte, 6)
		_, _ = rand.Read(b)
		extra["HUZHU_REDIS_ADDR"] = addr
		extra["HUZHU_REDIS_PREFIX"] = "huzhuapitest:" + hex.EncodeToString(b) + ":"
	} else if os.Getenv("HUZHU_TEST_REQUIRE_EXTERNAL") == "1" {
		t.Fatal("HUZHU_TEST_REQUIRE_EXTERNAL=1 but HUZHU_TEST_REDIS_ADDR is empty")
	}
	env := testEnv(t, extra)
	base := startServe(t, env, "--demo")
	if db == nil {
		var err error
		db, err = store.Open(context.Background(), store.Options{SQLitePath: env("HUZHU_DATABASE_SQLITE_PATH")})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = store.Close(db) })
	}
	return base, fake, db
}

// worker is a demo member with the numbers they would type, decrypted for the test.
type worker struct {
	id                      uint64
	name, idNo, card, phone string
}

// demoWorkers returns up to n demo members with a 京卡, a phone and at least one payout line.
func demoWorkers(t *testing.T, db *gorm.DB, n int) []worker {
	t.Helper()
	cipher, err := pii.New([]byte(apiTestPIIKey))
	if err != nil {
		t.Fatal(err)
	}
	var ms []model.Member
	if err := db.Where("jing_card_hash <> '' AND phone_hash <> '' AND id IN (SELECT member_id FROM payout_lines WHERE eligible)").
		Order("id").Limit(n).Find(&ms).Error; err != nil {
		t.Fatal(err)
	}
	var out []worker
	for _, m := range ms {
		w := worker{id: m.ID, name: m.Name}
		for _, f := range []struct {
			enc []byte
			to  *string
		}{{m.IDNumberEnc, &w.idNo}, {m.JingCardEnc, &w.card}, {m.PhoneEnc, &w.phone}} {
			if *f.to, err = cipher.Decrypt(f.enc); err != nil {
				t.Fatal(err)
			}
		}
		out = append(out, w)
	}
	if len(out) == 0 {
		t.Fatal("the demo has no member with payouts")
	}
	return out
}

type client struct {
	base, token string
	http        *http.Client
}

// request sends one request; decode says whether to read the answer as JSON (the load loop only
// drains it).
func (c *client) request(method, path string, body any, decode bool) (int, map[string]any, error) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, c.base+path, rd)
	req.Header.Set("Content-Type", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	if !decode {
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode, nil, nil
	}
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return resp.StatusCode, m, nil
}

func (c *client) do(method, path string, body any) (int, map[string]any, error) {
	return c.request(method, path, body, true)
}

// signIn logs w in through the fake code2session and binds the member.
func signIn(t *testing.T, base string, fake *wechattest.Fake, w worker, hc *http.Client) *client {
	t.Helper()
	code := fmt.Sprintf("code-%d-%d", w.id, time.Now().UnixNano())
	fake.Code2SessionFor(code, fmt.Sprintf("openid-%d", w.id), fmt.Sprintf("unionid-%d", w.id))
	c := &client{base: base, http: hc}
	st, m, err := c.do("POST", "/api/v1/session", map[string]string{"code": code})
	if err != nil || st != 200 {
		t.Fatalf("login = %d %v %v", st, m, err)
	}
	c.token = m["token"].(string)
	phoneCode := fmt.Sprintf("phone-%d-%d", w.id, time.Now().UnixNano())
	fake.PhoneNumberFor(phoneCode, w.phone)
	st, m, err = c.do("POST", "/api/v1/binding", map[string]string{"name": w.name, "id_number": w.idNo, "jing_card": w.card, "phone_code": phoneCode})
	if err != nil || st != 201 {
		t.Fatalf("bind member %d = %d %v %v", w.id, st, m, err)
	}
	return c
}

// TestAPIThroughServe: the mini-program API as served by `huzhu serve --demo`, with login going
// to the fake WeChat through the configured wechat.api_base.
func TestAPIThroughServe(t *testing.T) {
	base, fake, db := apiServer(t)
	ws := demoWorkers(t, db, 1)
	c := signIn(t, base, fake, ws[0], http.DefaultClient)
	if n := fake.Count(wechattest.PathCode2Session); n != 1 {
		t.Errorf("code2session calls = %d, want 1", n)
	}
	st, me, _ := c.do("GET", "/api/v1/me", nil)
	if st != 200 || me["name"] != ws[0].name {
		t.Fatalf("me = %d %v", st, me)
	}
	st, page, _ := c.do("GET", "/api/v1/payouts?year="+strconv.Itoa(yearWithPayouts(t, db, ws[0].id)), nil)
	items, _ := page["items"].([]any)
	if st != 200 || len(items) == 0 {
		t.Fatalf("payouts = %d %v", st, page)
	}
	id := int64(items[0].(map[string]any)["id"].(float64))
	if st, d, _ := c.do("GET", fmt.Sprintf("/api/v1/payouts/%d", id), nil); st != 200 || d["timeline"] == nil {
		t.Errorf("detail = %d %v", st, d)
	}
	today := time.Now().In(model.Shanghai).Format(model.DateLayout)
	if st, e, _ := c.do("POST", "/api/v1/estimates", map[string]any{"bills": []map[string]any{{"claim_type": "门诊", "date": today, "self_pay1_fen": 10000}}}); st != 200 || e["total_fen"] == nil {
		t.Errorf("estimate = %d %v", st, e)
	}
	if st, e, _ := c.do("GET", "/api/v1/estimates/unsettled", nil); st != 200 || e["lines"] == nil {
		t.Errorf("unsettled = %d %v", st, e)
	}
	resp, err := http.Get(base + "/api/openapi.json")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("openapi.json: %v %v", resp, err)
	}
	resp.Body.Close()
}

func yearWithPayouts(t *testing.T, db *gorm.DB, memberID uint64) int {
	t.Helper()
	var y int
	if err := db.Model(&model.PayoutLine{}).Where("member_id = ?", memberID).Select("MAX(year)").Scan(&y).Error; err != nil {
		t.Fatal(err)
	}
	return y
}

// TestAPILoad measures requests/s and latency of the estimate and payout endpoints against
// `huzhu serve` on loopback. It runs only with HUZHU_API_BENCH=1; use MySQL and Redis
// (HUZHU_TEST_MYSQL_DSN, HUZHU_TEST_REDIS_ADDR) for figures that mean something. Tuning:
// HUZHU_API_BENCH_SECONDS (default 10) and HUZHU_API_BENCH_CONC (connections, default 32);
// HUZHU_API_BENCH_WRK=1 drives the load with wrk instead of Go's HTTP client (far less CPU), and
// HUZHU_API_BENCH_RATE offers that many requests/s through wrk instead of as many as the server
// answers; HUZHU_API_BENCH_ONLY runs the endpoints whose name holds it. The server runs in this
// process and shares the machine's cores with the load generator and the database.
func TestAPILoad(t *testing.T) {
	if os.Getenv("HUZHU_API_BENCH") != "1" {
		t.Skip("set HUZHU_API_BENCH=1 to measure")
	}
	secs, _ := strconv.Atoi(os.Getenv("HUZHU_API_BENCH_SECONDS"))
	if secs <= 0 {
		secs = 10
	}
	conc, _ := strconv.Atoi(os.Getenv("HUZHU_API_BENCH_CONC"))
	if conc <= 0 {
		conc = 32
	}
	base, fake, db := apiServer(t)
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: conc * 2, MaxConnsPerHost: conc * 2}, Timeout: 10 * time.Second}
	// 50 workers: the most one client IP may bind within an hour (IPAttemptsPerHour).
	ws := demoWorkers(t, db, 50)
	clients := make([]*client, len(ws))
	lineIDs := make([][]int64, len(ws))
	years := make([]int, len(ws))
	for i, w := range ws {
		clients[i] = signIn(t, base, fake, w, hc)
		years[i] = yearWithPayouts(t, db, w.id)
		var ids []int64
		db.Model(&model.PayoutLine{}).Where("member_id = ?", w.id).Pluck("id", &ids)
		lineIDs[i] = ids
	}
	today := time.Now().In(model.Shanghai)
	bills := map[string]any{"bills": []map[string]any{
		{"claim_type": "门诊", "date": today.AddDate(0, 0, -3).Format(model.DateLayout), "self_pay1_yuan": "356.20"},
		{"claim_type": "普通住院", "date": today.AddDate(0, -1, 0).Format(model.DateLayout), "self_pay1_fen": 1250000},
	}}
	estimateBody, _ := json.Marshal(bills)
	scenarios := []struct {
		name string
		req  func(i, n int) (method, path, body string)
	}{
		{"POST /api/v1/estimates (2 receipts)", func(_, _ int) (string, string, string) {
			return "POST", "/api/v1/estimates", string(estimateBody)
		}},
		{"GET /api/v1/estimates/unsettled", func(_, _ int) (string, string, string) {
			return "GET", "/api/v1/estimates/unsettled", ""
		}},
		{"GET /api/v1/payouts?year=", func(i, _ int) (string, string, string) {
			return "GET", "/api/v1/payouts?year=" + strconv.Itoa(years[i]), ""
		}},
		{"GET /api/v1/payouts/{id}", func(i, n int) (string, string, string) {
			return "GET", fmt.Sprintf("/api/v1/payouts/%d", lineIDs[i][n%len(lineIDs[i])]), ""
		}},
	}
	wrkPath, _ := exec.LookPath("wrk")
	useWrk := os.Getenv("HUZHU_API_BENCH_WRK") == "1" && wrkPath != ""
	rate, _ := strconv.Atoi(os.Getenv("HUZHU_API_BENCH_RATE"))
	if rate > 0 && !useWrk {
		t.Fatal("HUZHU_API_BENCH_RATE needs HUZHU_API_BENCH_WRK=1 and wrk on PATH (apt-get install wrk)")
	}
	fmt.Printf("API load: %s database, %s kv, %d concurrent clients, %ds per endpoint, %d bound workers\n",
		storetest.Backend(), kvBackend(), conc, secs, len(ws))
	only := os.Getenv("HUZHU_API_BENCH_ONLY")
	for _, sc := range scenarios {
		if only != "" && !strings.Contains(sc.name, only) {
			continue
		}
		if useWrk {
			runWrk(t, wrkPath, base, db, sc.name, conc, rate, secs, clients, sc.req)
			continue
		}
		var (
			mu    sync.Mutex
			lat   []time.Duration
			fails atomic.Int64
			wg    sync.WaitGroup
		)
		deadline := time.Now().Add(time.Duration(secs) * time.Second)
		began := time.Now()
		for g := range conc {
			wg.Go(func() {
				var mine []time.Duration
				for n := 0; time.Now().Before(deadline); n++ {
					i := (g + n) % len(clients)
					t0 := time.Now()
					method, path, body := sc.req(i, n)
					var payload any
					if body != "" {
						payload = json.RawMessage(body)
					}
					st, _, err := clients[i].request(method, path, payload, false)
					mine = append(mine, time.Since(t0))
					if err != nil || st != 200 {
						fails.Add(1)
					}
				}
				mu.Lock()
				lat = append(lat, mine...)
				mu.Unlock()
			})
		}
		wg.Wait()
		elapsed := time.Since(began)
		slices.Sort(lat)
		pct := func(p float64) time.Duration { return lat[min(len(lat)-1, int(float64(len(lat))*p))] }
		line := fmt.Sprintf("%-38s %7d req  %7.0f req/s  p50 %6.2f ms  p99 %6.2f ms  max %6.2f ms  errors %d",
			sc.name, len(lat), float64(len(lat))/elapsed.Seconds(), ms(pct(0.50)), ms(pct(0.99)), ms(lat[len(lat)-1]), fails.Load())
		fmt.Println(line)
		t.Log(line)
		if fails.Load() > 0 {
			t.Errorf("%s: %d requests failed", sc.name, fails.Load())
		}
	}
}

// runWrk drives one scenario with wrk (an external load generator using far less CPU than Go's
// HTTP client) through a Lua script that cycles over every worker's requests. With rate 0 each
// of the conc connections sends its next request as soon as the answer is in (closed loop: the
// throughput the machine can give). With a rate, the connections take turns on a fixed
// schedule of rate requests/s per run, so latency is measured at that offered load rather than
// at saturation; the schedule is kept in wall-clock time through LuaJIT's FFI.
func runWrk(t *testing.T, wrk, base string, db *gorm.DB, name string, conc, rate, secs int, clients []*client, req func(i, n int) (string, string, string)) {
	t.Helper()
	var lua bytes.Buffer
	lua.WriteString("local reqs = {}\n")
	for i, c := range clients {
		for n := range 8 {
			method, path, body := req(i, n)
			headers := fmt.Sprintf("{[\"Authorization\"] = %q, [\"Content-Type\"] = \"application/json\"}", "Bearer "+c.token)
			bodyLua := "nil"
			if body != "" {
				bodyLua = strconv.Quote(body)
			}
			fmt.Fprintf(&lua, "reqs[#reqs+1] = wrk.format(%q, %q, %s, %s)\n", method, path, headers, bodyLua)
		}
	}
	lua.WriteString(`local i = 0
request = function() i = i + 1; return reqs[(i % #reqs) + 1] end
local errors = 0
response = function(status) if status ~= 200 then errors = errors + 1 end end
done = function() io.write(string.format("non-200: %d\n", errors)) end
`)
	if rate > 0 {
		// wrk calls delay() when an answer is in, for the milliseconds to wait before that
		// connection's next request; each of wrk's 2 threads hands out its half of the slots.
		fmt.Fprintf(&lua, `local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } huzhu_timespec;
int clock_gettime(int clk, huzhu_timespec *tp);
]]
local ts = ffi.new("huzhu_timespec")
local function now_ms() ffi.C.clock_gettime(1, ts); return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6 end
local interval = 1000 / (%d / 2)
local next_at = nil
delay = function()
  local now = now_ms()
  if next_at == nil or next_at < now - 1000 then next_at = now end
  next_at = next_at + interval
  return math.max(next_at - now, 0)
end
`, rate)
	}
	script := t.TempDir() + "/load.lua"
	if err := os.WriteFile(script, lua.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	// A short unmeasured run first, as a server in service is warm: the connection pools have
	// grown, the caches hold the workers' bindings and the first garbage has been collected.
	if out, err := exec.Command(wrk, "-t2", fmt.Sprintf("-c%d", conc), "-d2s", "-s", script, base).CombinedOutput(); err != nil {
		t.Fatalf("wrk warm-up: %v\n%s", err, out)
	}
	cpu0, q0 := cpuTimes(), questions(db)
	cmd := exec.Command(wrk, "-t2", fmt.Sprintf("-c%d", conc), fmt.Sprintf("-d%ds", secs), "--latency", "-s", script, base)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("wrk: %v\n%s", err, out)
	}
	genCPU := cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	cpu1, q1 := cpuTimes(), questions(db)
	var keep []string
	for _, l := range strings.Split(string(out), "\n") {
		l = strings.TrimSpace(l)
		if strings.HasPrefix(l, "Requests/sec") || strings.HasPrefix(l, "50%") || strings.HasPrefix(l, "99%") ||
			strings.HasPrefix(l, "non-200") || strings.Contains(l, "requests in") {
			keep = append(keep, l)
		}
	}
	// CPU time per request of the server (this process: wrk runs apart) and of the database and
	// Redis servers: unlike requests/s, it hardly moves when other work shares the machine.
	if n := requestsIn(string(out)); n > 0 {
		var per []string
		for _, k := range []string{"server", "mariadbd", "mysqld", "redis-server"} {
			if d, ok := cpu1[k]; ok {
				per = append(per, fmt.Sprintf("%s %.0f µs", k, float64((d-cpu0[k]).Microseconds())/float64(n)))
			}
		}
		per = append(per, fmt.Sprintf("wrk %.0f µs", float64(genCPU.Microseconds())/float64(n)))
		keep = append(keep, "CPU/req: "+strings.Join(per, ", "))
		if q0 >= 0 && q1 >= 0 {
			keep = append(keep, fmt.Sprintf("statements/req: %.2f", float64(q1-q0)/float64(n)))
		}
	}
	mode := "closed loop"
	if rate > 0 {
		mode = fmt.Sprintf("offered %d/s", rate)
	}
	line := fmt.Sprintf("wrk %-34s %d conns, %s: %s", name, conc, mode, strings.Join(keep, " | "))
	fmt.Println(line)
	t.Log(line)
	if !strings.Contains(string(out), "non-200: 0") {
		t.Errorf("%s: some requests failed:\n%s", name, out)
	}
}

// questions returns MySQL's count of statements the server has run (-1 on SQLite), to tell
// how many each request costs; the few the counting itself adds vanish in the average.
func questions(db *gorm.DB) int64 {
	if !store.IsMySQL(db) {
		return -1
	}
	var name string
	var n int64
	if err := db.Raw("SHOW GLOBAL STATUS LIKE 'Questions'").Row().Scan(&name, &n); err != nil {
		return -1
	}
	return n
}

// requestsIn reads the request count of wrk's summary ("12345 requests in 5.00s").
func requestsIn(out string) int64 {
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) > 2 && f[1] == "requests" && f[2] == "in" {
			n, _ := strconv.ParseInt(f[0], 10, 64)
			return n
		}
	}
	return 0
}

// cpuTimes returns the CPU time (user + system) used so far by this process ("server") and by
// the local database and Redis servers it finds in /proc (Linux only; others are left out).
func cpuTimes() map[string]time.Duration {
	out := map[string]time.Duration{}
	if d, ok := procCPU("self"); ok {
		out["server"] = d
	}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		comm, err := os.ReadFile("/proc/" + e.Name() + "/comm")
		if err != nil {
			continue
		}
		name := strings.TrimSpace(string(comm))
		if name != "mariadbd" && name != "mysqld" && name != "redis-server" {
			continue
		}
		if d, ok := procCPU(e.Name()); ok {
			out[name] += d
		}
	}
	return out
}

// procCPU reads utime + stime of /proc/<pid>/stat, in clock ticks of 10 ms (USER_HZ 100).
func procCPU(pid string) (time.Duration, bool) {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0, false
	}
	// The command name, in parentheses, may hold spaces: fields start after its ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, false
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return time.Duration(ut+st) * 10 * time.Millisecond, true
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func kvBackend() string {
	if os.Getenv("HUZHU_TEST_REDIS_ADDR") != "" {
		return "redis"
	}
	return "in-process"
}
