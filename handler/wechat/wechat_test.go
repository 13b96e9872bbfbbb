package wechat_test

// The tests build a wechat.Client pointed at a fake (which sets the process-global HTTP client
// of silenceper/wechat), so none of them may call t.Parallel.

import (
	"encoding/xml"
	"fmt"
	"io"
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
}

func newFixture(t testing.TB, state kv.Store) *fixture {
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
	wxh.New(b, wx, wxh.Options{}, nil).Mount(app)
	return &fixture{app: app, db: db, cb: wx.Callback()}
}

const ts, nonce = "1746842400", "n0nce42"

// plainURL signs a callback URL as WeChat does in plain mode.
func (f *fixture) plainURL(extra string) string {
	return wxh.Path + "?timestamp=" + ts + "&nonce=" + nonce + "&signature=" + util.Signature(f.cb.Token, ts, nonce) + extra
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
	f := newFixture(t, nil)
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
	f := newFixture(t, nil)
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
	f := newFixture(b, nil)
	qs := []string{"一年最多能报多少钱", "我的钱到了没", "京卡丢了怎么补", "农名工能报不", "今天天气怎么样", "退休了还能报吗"}
	target := f.plainURL("")
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
			req := httptest.NewRequest(http.MethodPost, target, strings.NewReader(body))
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
