package wechat_test

// The tests build a wechat.Client pointed at a fake (which sets the process-global HTTP client
// of silenceper/wechat), so none of them may call t.Parallel.

import (
	"bytes"
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/silenceper/wechat/v2/officialaccount/message"
	"github.com/silenceper/wechat/v2/util"
	"gorm.io/gorm"

	"huzhu/config"
	"huzhu/handler"
	wxh "huzhu/handler/wechat"
	"huzhu/model"
	"huzhu/service/bot"
	"huzhu/service/calendar"
	"huzhu/service/errs"
	"huzhu/service/kv"
	"huzhu/service/kv/kvtest"
	"huzhu/service/payout"
	"huzhu/service/policy"
	"huzhu/service/store/storetest"
	"huzhu/service/wechat"
	"huzhu/service/wechat/wechattest"
)

var testNow = time.Date(2025, 5, 10, 10, 0, 0, 0, model.Shanghai)

type fixture struct {
	app *fiber.App
	db  *gorm.DB
	cb  wechat.Callback
	wx  *wechat.Client
	seq atomic.Int64 // makes each request's nonce new, as WeChat's are
}

// newFixture builds the callback in mode (wxh.ModePlain…) over the bot; state holds the bot's
// state and the nonces seen (nil: a fresh store). The clock is testNow.
func newFixture(t testing.TB, state kv.Store, mode string) *fixture {
	return newFixtureLog(t, state, mode, nil)
}

func newFixtureLog(t testing.TB, state kv.Store, mode string, log *slog.Logger) *fixture {
	t.Helper()
	fake := wechattest.New(t)
	wx := fake.Client(t)
	db := storetest.NewDB(t)
	vs, err := policy.ParseYAML(config.PolicyYAML)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := bot.ParseFAQ(config.FAQYAML, vs, bot.Links{}, bot.Thresholds{})
	if err != nil {
		t.Fatal(err)
	}
	if state == nil {
		state = kvtest.New(t)
	}
	engine, err := policy.New(vs)
	if err != nil {
		t.Fatal(err)
	}
	payouts := payout.New(db, engine, calendar.New(model.Shanghai), payout.Options{}, func() time.Time { return testNow })
	b := bot.New(kb, calendar.New(model.Shanghai), db, payouts, state, bot.Options{}, func() time.Time { return testNow }, nil)
	app := handler.New(handler.Options{BodyLimit: 256 << 10})
	wxh.New(b, wx, wxh.Options{Mode: mode, Nonces: state, Now: func() time.Time { return testNow }}, log).Mount(app)
	return &fixture{app: app, db: db, cb: wx.Callback(), wx: wx}
}

// ts is testNow as WeChat sends it; nonce is a fixed nonce for requests that fail before it counts.
const ts, nonce = "1746842400", "n0nce42"

// newNonce returns a nonce this fixture has not sent yet.
func (f *fixture) newNonce() string { return fmt.Sprintf("n%d", f.seq.Add(1)) }

// plainURL signs a callback URL as WeChat does in plain mode, with a new nonce.
func (f *fixture) plainURL(extra string) string { return f.signedURL(ts, f.newNonce(), extra) }

// signedURL signs a callback URL with the given timestamp and nonce.
func (f *fixture) signedURL(timestamp, n, extra string) string {
	return wxh.Path + "?timestamp=" + timestamp + "&nonce=" + n + "&signature=" + util.Signature(f.cb.Token, timestamp, n) + extra
}

func textXML(from string, msgID int64, content string) string {
	return fmt.Sprintf(`<xml><ToUserName><![CDATA[gh_huzhu]]></ToUserName><FromUserName><![CDATA[%s]]></FromUserName>`+
		`<CreateTime>1746842400</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[%s]]></Content><MsgId>%d</MsgId></xml>`,
		from, content, msgID)
}

func eventXML(from, event, key string, created int64) string {
	return fmt.Sprintf(`<xml><ToUserName><![CDATA[gh_huzhu]]></ToUserName><FromUserName><![CDATA[%s]]></FromUserName>`+
		`<CreateTime>%d</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[%s]]></Event><EventKey><![CDATA[%s]]></EventKey></xml>`,
		from, created, event, key)
}

func (f *fixture) do(t testing.TB, method, target, body string) (int, string, http.Header) {
	t.Helper()
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	req.Header.Set("Content-Type", "text/xml")
	resp, err := f.app.Test(req, -1)
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

// replyText decodes a plain text reply.
func replyText(t testing.TB, body string) string {
	t.Helper()
	var r message.Text
	if err := xml.Unmarshal([]byte(body), &r); err != nil {
		t.Fatalf("reply %q is not XML: %v", body, err)
	}
	if r.MsgType != message.MsgTypeText || r.ToUserName == "" {
		t.Fatalf("reply = %+v, want a text message to the user", r)
	}
	return string(r.Content)
}

func TestCallbackPlain(t *testing.T) {
	f := newFixture(t, nil, wxh.ModePlain)
	t.Run("url verification", func(t *testing.T) {
		code, body, _ := f.do(t, http.MethodGet, f.plainURL("&echostr=8427310025"), "")
		if code != 200 || body != "8427310025" {
			t.Fatalf("GET echostr = %d %q", code, body)
		}
	})
	t.Run("forged signature", func(t *testing.T) {
		code, body, _ := f.do(t, http.MethodGet, wxh.Path+"?timestamp="+ts+"&nonce="+nonce+"&signature=deadbeef&echostr=1", "")
		if code != http.StatusForbidden || body != "" {
			t.Fatalf("forged GET = %d %q, want 403 and nothing", code, body)
		}
		code, _, _ = f.do(t, http.MethodPost, wxh.Path+"?timestamp="+ts+"&nonce="+nonce+"&signature=deadbeef", textXML("o-1", 1, "你好"))
		if code != http.StatusForbidden {
			t.Fatalf("forged POST = %d, want 403", code)
		}
	})
	tests := []struct {
		name, body string
		wants      []string
	}{
		{"coverage question", textXML("o-1", 11, "一年最多能报多少钱"), []string{"200653元"}},
		{"pinned hotline", textXML("o-1", 12, "电话"), []string{"12351"}},
		{"chit-chat is declined", textXML("o-1", 13, "讲个笑话"), []string{"不太确定", "12351"}},
		{"personal question from an unbound worker", textXML("o-1", 14, "我的钱到了吗"), []string{"绑定"}},
		{"menu click", eventXML("o-1", "CLICK", bot.MenuKeyHuman, 1746842401), []string{"12351"}},
		{"subscribe", eventXML("o-sub", "subscribe", "", 1746842402), []string{"感谢关注", "绑定"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			code, body, h := f.do(t, http.MethodPost, f.plainURL("&openid=o-1"), tc.body)
			if d := time.Since(start); d > time.Second {
				t.Errorf("reply took %s, want well inside WeChat's 5 s", d)
			}
			if code != 200 || !strings.Contains(h.Get("Content-Type"), "xml") {
				t.Fatalf("POST = %d %s %q", code, h.Get("Content-Type"), body)
			}
			got := replyText(t, body)
			for _, w := range tc.wants {
				if !strings.Contains(got, w) {
					t.Errorf("reply %q lacks %q", got, w)
				}
			}
			if len(got) > bot.MaxReplyBytes {
				t.Errorf("reply is %d bytes, over WeChat's %d", len(got), bot.MaxReplyBytes)
			}
		})
	}
	t.Run("unsubscribe answers success and marks the account", func(t *testing.T) {
		code, body, _ := f.do(t, http.MethodPost, f.plainURL(""), eventXML("o-sub", "unsubscribe", "", 1746842500))
		if code != 200 || body != "success" {
			t.Fatalf("unsubscribe = %d %q, want success", code, body)
		}
		var a model.WeChatAccount
		if err := f.db.Where("oa_open_id = ?", "o-sub").Take(&a).Error; err != nil || a.Following || a.UnfollowedAt == nil {
			t.Fatalf("account after unsubscribe = %+v, %v", a, err)
		}
	})
	t.Run("malformed XML", func(t *testing.T) {
		code, _, _ := f.do(t, http.MethodPost, f.plainURL(""), "<xml><Content>unclosed")
		if code != http.StatusBadRequest {
			t.Fatalf("malformed = %d, want 400", code)
		}
	})
	t.Run("body too large", func(t *testing.T) {
		code, _, _ := f.do(t, http.MethodPost, f.plainURL(""), textXML("o-1", 15, strings.Repeat("长", 30000)))
		if code != http.StatusRequestEntityTooLarge && code != http.StatusBadRequest {
			t.Fatalf("large body = %d, want 413", code)
		}
	})
	t.Run("retries are answered once and alike", func(t *testing.T) {
		_, b1, _ := f.do(t, http.MethodPost, f.plainURL(""), textXML("o-r", 21, "我能参加吗"))
		_, b2, _ := f.do(t, http.MethodPost, f.plainURL(""), textXML("o-r", 22, "1"))
		_, b3, _ := f.do(t, http.MethodPost, f.plainURL(""), textXML("o-r", 22, "1")) // WeChat's retry
		r1, r2, r3 := replyText(t, b1), replyText(t, b2), replyText(t, b3)
		if !strings.Contains(r1, "基本医疗保险") || r2 != r3 || !strings.Contains(r2, "在职") {
			t.Fatalf("replies %q / %q / %q", r1, r2, r3)
		}
		_, b4, _ := f.do(t, http.MethodPost, f.plainURL(""), textXML("o-r", 23, "1"))
		if r4 := replyText(t, b4); !strings.Contains(r4, "工会的会员") {
			t.Fatalf("after a retry the dialogue is at %q, want the union question", r4)
		}
	})
}

// aesURL signs a safe-mode request: signature over the token, msg_signature over the ciphertext.
func (f *fixture) aesURL(enc string) string {
	nonce := f.newNonce()
	q := url.Values{"timestamp": {ts}, "nonce": {nonce}, "encrypt_type": {"aes"}, "openid": {"o-aes"},
		"signature": {util.Signature(f.cb.Token, ts, nonce)}, "msg_signature": {util.Signature(f.cb.Token, ts, nonce, enc)}}
	return wxh.Path + "?" + q.Encode()
}

func (f *fixture) encrypt(t testing.TB, plain string) (string, string) {
	t.Helper()
	enc, err := util.EncryptMsg([]byte("0123456789abcdef"), []byte(plain), f.cb.AppID, f.cb.EncodingAESKey)
	if err != nil {
		t.Fatal(err)
	}
	return string(enc), "<xml><ToUserName><![CDATA[gh_huzhu]]></ToUserName><Encrypt><![CDATA[" + string(enc) + "]]></Encrypt></xml>"
}

func TestCallbackSafeMode(t *testing.T) {
	f := newFixture(t, nil, wxh.ModeSafe)
	t.Run("text", func(t *testing.T) {
		enc, body := f.encrypt(t, textXML("o-aes", 31, "京卡丢了怎么办"))
		code, out, _ := f.do(t, http.MethodPost, f.aesURL(enc), body)
		if code != 200 {
			t.Fatalf("AES POST = %d %q", code, out)
		}
		var r message.ResponseEncryptedXMLMsg
		if err := xml.Unmarshal([]byte(out), &r); err != nil {
			t.Fatalf("reply %q: %v", out, err)
		}
		if want := util.Signature(f.cb.Token, fmt.Sprint(r.Timestamp), r.Nonce, r.EncryptedMsg); r.MsgSignature != want {
			t.Errorf("reply msg_signature = %q, want %q", r.MsgSignature, want)
		}
		_, plain, err := util.DecryptMsg(f.cb.AppID, r.EncryptedMsg, f.cb.EncodingAESKey)
		if err != nil {
			t.Fatalf("decrypt reply: %v", err)
		}
		if got := replyText(t, string(plain)); !strings.Contains(got, "挂失") {
			t.Errorf("decrypted reply = %q, want the lost-card answer", got)
		}
	})
	t.Run("no reply is success", func(t *testing.T) {
		enc, body := f.encrypt(t, eventXML("o-aes", "VIEW", "https://example.org", 1746842600))
		code, out, _ := f.do(t, http.MethodPost, f.aesURL(enc), body)
		if code != 200 || out != "success" {
			t.Fatalf("AES event without reply = %d %q, want success", code, out)
		}
	})
	t.Run("bad msg_signature", func(t *testing.T) {
		_, body := f.encrypt(t, textXML("o-aes", 32, "你好"))
		code, _, _ := f.do(t, http.MethodPost, f.aesURL("forged"), body)
		if code != http.StatusBadRequest {
			t.Fatalf("forged msg_signature = %d, want 400", code)
		}
	})
	t.Run("ciphertext that does not decrypt", func(t *testing.T) {
		enc := "bm90IGEgY2lwaGVydGV4dA=="
		code, _, _ := f.do(t, http.MethodPost, f.aesURL(enc), "<xml><Encrypt><![CDATA["+enc+"]]></Encrypt></xml>")
		if code != http.StatusBadRequest {
			t.Fatalf("garbage ciphertext = %d, want 400", code)
		}
	})
}

// BenchmarkCallback measures the full callback path on the Fiber app: signature check, XML
// parsing, the bot (de-duplication and conversation state in the kv store: Redis when
// HUZHU_TEST_REDIS_ADDR is set; personal questions read SQLite or MySQL) and the reply XML,
// with 16 concurrent senders as WeChat pushes many users' messages at once. It reports
// messages/s and the p50 and p99 latency of one message.
func BenchmarkCallback(b *testing.B) {
	f := newFixture(b, nil, wxh.ModePlain)
	qs := []string{"一年最多能报多少钱", "我的钱到了没", "京卡丢了怎么补", "农名工能报不", "今天天气怎么样", "退休了还能报吗"}
	var (
		mu  sync.Mutex
		lat []time.Duration
		seq atomic.Int64
	)
	b.SetParallelism(8) // × GOMAXPROCS senders
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		var mine []time.Duration
		for pb.Next() {
			i := seq.Add(1)
			body := textXML(fmt.Sprintf("o-bench-%d", i%500), 1_000_000+i, qs[i%int64(len(qs))])
			req := httptest.NewRequest(http.MethodPost, f.plainURL(""), strings.NewReader(body))
			t0 := time.Now()
			resp, err := f.app.Test(req, -1)
			if err != nil || resp.StatusCode != 200 {
				b.Errorf("POST: %v %v", err, resp)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			mine = append(mine, time.Since(t0))
		}
		mu.Lock()
		lat = append(lat, mine...)
		mu.Unlock()
	})
	elapsed := time.Since(start)
	b.StopTimer()
	if len(lat) == 0 {
		return
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "msgs/s")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}

// subscribed reports whether the bot handled a subscribe event of openID (it records the account).
func subscribed(t *testing.T, f *fixture, openID string) bool {
	t.Helper()
	var n int64
	if err := f.db.Model(&model.WeChatAccount{}).Where("oa_open_id = ?", openID).Count(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n > 0
}

// TestCallbackRefusesReplays: a correctly signed request is served once, only while its
// timestamp is within five minutes of now; anything else is 403 with an empty body, never
// reaches the bot, and is logged without the message or the openid.
func TestCallbackRefusesReplays(t *testing.T) {
	var logs bytes.Buffer
	state := kvtest.New(t)
	f := newFixtureLog(t, state, wxh.ModePlain, slog.New(slog.NewTextHandler(&logs, nil)))
	unix := func(d time.Duration) string { return fmt.Sprint(testNow.Add(d).Unix()) }
	tests := []struct {
		name, timestamp string
		served          bool
	}{
		{"2017, the issue's replay", "1500000000", false},
		{"six minutes old", unix(-6 * time.Minute), false},
		{"six minutes ahead", unix(6 * time.Minute), false},
		{"not a number", "soon", false},
		{"four minutes old", unix(-4 * time.Minute), true},
		{"four minutes ahead", unix(4 * time.Minute), true},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			openID := fmt.Sprintf("o-ts-%d", i)
			code, body, _ := f.do(t, http.MethodPost, f.signedURL(tc.timestamp, f.newNonce(), ""), eventXML(openID, "subscribe", "", 1746842400))
			if tc.served != (code == 200) || subscribed(t, f, openID) != tc.served {
				t.Fatalf("timestamp %s: status %d, handled %v; want served %v", tc.timestamp, code, subscribed(t, f, openID), tc.served)
			}
			if !tc.served && body != "" {
				t.Errorf("refusal has a body: %q", body)
			}
		})
	}
	t.Run("a nonce is served once", func(t *testing.T) {
		target := f.plainURL("")
		if code, _, _ := f.do(t, http.MethodPost, target, eventXML("o-n1", "subscribe", "", 1746842401)); code != 200 {
			t.Fatalf("first = %d, want 200", code)
		}
		code, body, _ := f.do(t, http.MethodPost, target, eventXML("o-n2", "subscribe", "", 1746842402))
		if code != http.StatusForbidden || body != "" || subscribed(t, f, "o-n2") {
			t.Fatalf("replayed nonce = %d %q (handled %v), want 403, empty, not handled", code, body, subscribed(t, f, "o-n2"))
		}
		code, _, _ = f.do(t, http.MethodGet, target+"&echostr=77", "")
		if code != http.StatusForbidden {
			t.Fatalf("replayed nonce on the URL check = %d, want 403", code)
		}
	})
	t.Run("another instance sharing the store refuses it too", func(t *testing.T) {
		other := newFixture(t, state, wxh.ModePlain)
		target := f.plainURL("")
		if code, _, _ := f.do(t, http.MethodPost, target, textXML("o-i", 41, "电话")); code != 200 {
			t.Fatalf("first = %d", code)
		}
		if code, _, _ := other.do(t, http.MethodPost, target, textXML("o-i", 42, "我的钱到了吗")); code != http.StatusForbidden {
			t.Fatalf("the signature reused with another message, at the other instance = %d, want 403", code)
		}
	})
	t.Run("WeChat's retry of the same push is answered again", func(t *testing.T) {
		// WeChat retries a push it got no answer to within 5 s; its documents do not say
		// whether the retry keeps the timestamp and nonce, so the same request must still get
		// its answer (the bot answers message 43 once and repeats that answer).
		other := newFixture(t, state, wxh.ModePlain)
		target := f.plainURL("")
		code, first, _ := f.do(t, http.MethodPost, target, textXML("o-r", 43, "电话"))
		if code != 200 || first == "" {
			t.Fatalf("first = %d %q", code, first)
		}
		code, again, _ := other.do(t, http.MethodPost, target, textXML("o-r", 43, "电话"))
		if code != 200 || !strings.Contains(again, "12351") {
			t.Fatalf("retry = %d %q, want 200 with the answer again", code, again)
		}
	})
	out := logs.String()
	for _, want := range []string{"reason=stale", "reason=replayed"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	for _, leak := range []string{"o-n2", "o-ts-0", "subscribe", "电话", "signature"} {
		if strings.Contains(out, leak) {
			t.Errorf("log of refusals contains %q:\n%s", leak, out)
		}
	}
}

// TestCallbackModes: in safe mode a plain POST is refused even when correctly signed; compatible
// mode accepts both; the URL check (GET echostr) is answered in every mode.
func TestCallbackModes(t *testing.T) {
	tests := []struct {
		mode                 string
		plainOK, encryptedOK bool
	}{
		{wxh.ModeSafe, false, true},
		{"", false, true}, // the default is safe
		{wxh.ModeCompatible, true, true},
		{wxh.ModePlain, true, false}, // no key in plain mode: the ciphertext cannot be read
	}
	for _, tc := range tests {
		t.Run("mode "+tc.mode, func(t *testing.T) {
			f := newFixture(t, nil, tc.mode)
			code, _, _ := f.do(t, http.MethodPost, f.plainURL(""), textXML("o-m", 51, "电话"))
			if (code == 200) != tc.plainOK || (!tc.plainOK && code != http.StatusForbidden) {
				t.Errorf("plain POST = %d, want accepted %v (else 403)", code, tc.plainOK)
			}
			enc, body := f.encrypt(t, textXML("o-m", 52, "电话"))
			if code, _, _ := f.do(t, http.MethodPost, f.aesURL(enc), body); (code == 200) != tc.encryptedOK && tc.mode != wxh.ModePlain {
				t.Errorf("encrypted POST = %d, want accepted %v", code, tc.encryptedOK)
			}
			if code, body, _ := f.do(t, http.MethodGet, f.plainURL("&echostr=31"), ""); code != 200 || body != "31" {
				t.Errorf("URL check = %d %q, want 200 31", code, body)
			}
		})
	}
}

// downStore is a nonce store whose backend is unreachable.
type downStore struct{}

func (downStore) SetNX(context.Context, string, []byte, time.Duration) (bool, error) {
	return false, errs.Unavailable("kv.unavailable", "系统暂时不可用，请稍后再试", 10*time.Second, kv.ErrUnavailable)
}

func (downStore) Get(context.Context, string) ([]byte, bool, error) {
	return nil, false, errs.Unavailable("kv.unavailable", "系统暂时不可用，请稍后再试", 10*time.Second, kv.ErrUnavailable)
}

// TestCallbackNonceStoreDown: with the nonce store down a signed push is 503 with Retry-After
// (WeChat retries), not served unchecked and not a 500.
func TestCallbackNonceStoreDown(t *testing.T) {
	f := newFixture(t, nil, wxh.ModePlain)
	app := handler.New(handler.Options{})
	wxh.New(nil, f.wx, wxh.Options{Mode: wxh.ModePlain, Nonces: downStore{}, Now: func() time.Time { return testNow }}, nil).Mount(app)
	req := httptest.NewRequest(http.MethodPost, f.plainURL(""), strings.NewReader(textXML("o-d", 61, "电话")))
	resp, err := app.Test(req, -1)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != "10" {
		t.Fatalf("nonce store down = %d Retry-After %q, want 503 and 10", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
}
