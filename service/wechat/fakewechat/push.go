package fakewechat

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/silenceper/wechat/v2/util"
)

// Push is a text message a follower sends, as WeChat pushes it to the official account's
// callback.
type Push struct {
	ToUser   string // the official account's original id (gh_…)
	FromUser string // the follower's openid
	Text     string
	At       time.Time
	MsgID    int64
}

type textXML struct {
	XMLName      xml.Name `xml:"xml"`
	ToUserName   cdata
	FromUserName cdata
	CreateTime   int64
	MsgType      cdata
	Content      cdata
	MsgID        int64 `xml:"MsgId"`
}

type encryptedXML struct {
	XMLName    xml.Name `xml:"xml"`
	ToUserName cdata
	Encrypt    cdata
}

type cdata struct {
	Value string `xml:",cdata"`
}

// SignPush returns the query and body WeChat would send for p: signed with the callback token
// and, when aesKey is set, encrypted as in safe mode (encrypt_type=aes, msg_signature), which
// every mode that has a key accepts. POST the body to the callback URL with the query.
func SignPush(p Push, appID, token, aesKey string) (url.Values, []byte, error) {
	raw, err := xml.Marshal(textXML{ToUserName: cdata{p.ToUser}, FromUserName: cdata{p.FromUser}, CreateTime: p.At.Unix(),
		MsgType: cdata{"text"}, Content: cdata{p.Text}, MsgID: p.MsgID})
	if err != nil {
		return nil, nil, fmt.Errorf("push: %w", err)
	}
	ts := strconv.FormatInt(p.At.Unix(), 10)
	nb := make([]byte, 8)
	_, _ = rand.Read(nb)
	nonce := hex.EncodeToString(nb)
	q := url.Values{"timestamp": {ts}, "nonce": {nonce}, "signature": {util.Signature(token, ts, nonce)}}
	if aesKey == "" {
		return q, raw, nil
	}
	random := make([]byte, 16)
	_, _ = rand.Read(random)
	for i := range random { // WeChat's random prefix is printable
		random[i] = 'a' + random[i]%26
	}
	enc, err := util.EncryptMsg(random, raw, appID, aesKey)
	if err != nil {
		return nil, nil, fmt.Errorf("push: encrypt: %w", err)
	}
	body, err := xml.Marshal(encryptedXML{ToUserName: cdata{p.ToUser}, Encrypt: cdata{string(enc)}})
	if err != nil {
		return nil, nil, fmt.Errorf("push: %w", err)
	}
	q.Set("encrypt_type", "aes")
	q.Set("msg_signature", util.Signature(token, ts, nonce, string(enc)))
	return q, body, nil
}

// OpenReply returns the text of the callback's answer to a push: "" for WeChat's "no reply"
// ("success" or an empty body), the decrypted Content of an encrypted reply.
func OpenReply(body []byte, appID, aesKey string) (string, error) {
	if len(body) == 0 || string(body) == "success" {
		return "", nil
	}
	var r struct {
		Encrypt string
		Content string
	}
	if err := xml.Unmarshal(body, &r); err != nil {
		return "", fmt.Errorf("reply: %w", err)
	}
	if r.Encrypt == "" {
		return r.Content, nil
	}
	_, raw, err := util.DecryptMsg(appID, r.Encrypt, aesKey)
	if err != nil {
		return "", fmt.Errorf("reply: decrypt: %w", err)
	}
	if err := xml.Unmarshal(raw, &r); err != nil {
		return "", fmt.Errorf("reply: %w", err)
	}
	return r.Content, nil
}
