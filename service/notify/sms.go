package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"huzhu/service/pii"
)

// HTTPSMS sends SMS through a provider's HTTP gateway: POST URL with the JSON body
// {"phone": "...", "text": "..."} and the header "Authorization: Bearer <APIKey>".
// 2xx is success; 429 and 5xx are transient (Retry-After honoured); 400/404/422 mean the number is
// unusable (FailUser); other 4xx are our fault (FailBadRequest); a broken connection after the
// request was written is ambiguous.
type HTTPSMS struct {
	url, apiKey string
	client      *http.Client
}

// NewHTTPSMS returns an HTTP SMS provider. client may be nil (a client with a 10 s timeout).
func NewHTTPSMS(url, apiKey string, client *http.Client) *HTTPSMS {
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	return &HTTPSMS{url: url, apiKey: apiKey, client: client}
}

// Send posts one message. The phone number never appears in the returned error.
func (h *HTTPSMS) Send(ctx context.Context, phone, text string) error {
	body, _ := json.Marshal(map[string]string{"phone": phone, "text": text})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.url, bytes.NewReader(body))
	if err != nil {
		return &SendError{Kind: FailBadRequest, Message: "bad SMS gateway URL"}
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("Authorization", "Bearer "+h.apiKey)
	resp, err := h.client.Do(req)
	if err != nil {
		// *url.Error carries the URL (no secrets: the key is in a header); classify by cause.
		return classify(err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 256))
	code := int64(resp.StatusCode)
	switch {
	case resp.StatusCode/100 == 2:
		return nil
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		var after time.Duration
		if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil {
			after = time.Duration(s) * time.Second
		}
		return &SendError{Kind: FailTransient, Code: code, Message: "SMS gateway busy", RetryAfter: after}
	case resp.StatusCode == http.StatusBadRequest || resp.StatusCode == http.StatusNotFound ||
		resp.StatusCode == http.StatusUnprocessableEntity:
		return &SendError{Kind: FailUser, Code: code, Message: "SMS gateway refused the number: " + string(bytes.TrimSpace(msg))}
	default:
		return &SendError{Kind: FailBadRequest, Code: code, Message: fmt.Sprintf("SMS gateway answered %d", resp.StatusCode)}
	}
}

// LogSMS is the development SMS provider: it logs the text and the masked number, and sends nothing.
type LogSMS struct {
	log *slog.Logger
}

// NewLogSMS returns a provider that only logs.
func NewLogSMS(log *slog.Logger) *LogSMS { return &LogSMS{log: log} }

// Send logs the message with the phone number masked (尾号 last 4).
func (l *LogSMS) Send(ctx context.Context, phone, text string) error {
	l.log.InfoContext(ctx, "sms (log provider, not sent)", "phone", pii.Mask(phone), "text", text)
	return nil
}
