package api_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"image"
	"image/jpeg"
	"io"
	"mime/multipart"
	"net/http/httptest"
	"strings"
	"testing"

	"huzhu/config"
	"huzhu/model"
	"huzhu/service/calendar"
	"huzhu/service/importer"
	"huzhu/service/kv/kvtest"
	"huzhu/service/payment"
	"huzhu/service/policy"
	"huzhu/service/settlement"
)

// upload sends one document as wx.uploadFile does: a multipart form with the file and its kind.
func (w *world) upload(t *testing.T, path, token, kind string, file []byte) resp {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	must(t, mw.WriteField("kind", kind))
	fw, err := mw.CreateFormFile("file", "wx-tmp.jpg")
	must(t, err)
	_, _ = fw.Write(file)
	must(t, mw.Close())
	req := httptest.NewRequest("POST", path, &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+token)
	r, err := w.app.Test(req, -1)
	must(t, err)
	b, _ := io.ReadAll(r.Body)
	out := resp{status: r.StatusCode, body: b}
	if err := w.spec.checkResponse("POST", path, r.StatusCode, b); err != nil {
		t.Errorf("%v\nbody: %s", err, b)
	}
	_ = jsonInto(b, &out.m)
	return out
}

// receiptPhoto is a phone photo of a receipt: a JPEG whose EXIF carries where it was taken.
func receiptPhoto(t *testing.T) []byte {
	t.Helper()
	var b bytes.Buffer
	must(t, jpeg.Encode(&b, image.NewGray(image.Rect(0, 0, 16, 16)), nil))
	exif := "Exif\x00\x00GPS 38.0428N 114.5149E"
	seg := []byte{0xFF, 0xE1, byte((len(exif) + 2) >> 8), byte(len(exif) + 2)}
	out := append([]byte{}, b.Bytes()[:2]...)
	out = append(out, seg...)
	out = append(out, exif...)
	return append(out, b.Bytes()[2:]...)
}

// TestClaimEndToEnd is issue 18's definition of done: a worker submits an above-cap claim with two
// documents through the API; the union returns it once; the worker completes it; the union
// approves and 办事处 (someone else) confirms; it is settled in the month's run, paid through the
// bank's result file, and the worker is notified; the same bill arriving later in the 医保 feed
// is not paid again.
func TestClaimEndToEnd(t *testing.T) {
	w := newWorld(t)
	a, _, _ := w.seed(t)
	ctx := context.Background()
	tok := w.loginBound(t, a)

	if r := w.call(t, "GET", "/api/v1/claims/requirements", "", ""); r.status != 200 || !strings.Contains(string(r.body), `"above_cap"`) {
		t.Fatalf("requirements = %d %s", r.status, r.body)
	}
	bill := `{"kind":"above_cap","claim_type":"特病住院","visit_date":"2025-05-03","discharge_date":"2025-05-20","hospital":"河北省示例医院",
		"total_fen":30000000,"self_pay1_fen":2000000,"above_cap_fen":6000000,"major_disease":true}`
	r := w.call(t, "POST", "/api/v1/claims", tok, bill)
	if r.status != 201 || r.m["status"].(map[string]any)["code"] != "draft" {
		t.Fatalf("start = %d %s", r.status, r.body)
	}
	id := uint64(r.m["id"].(float64))
	base := fmt.Sprintf("/api/v1/claims/%d", id)
	if missing := r.m["missing"].([]any); len(missing) != 2 {
		t.Errorf("missing = %v, want the social card copy and the receipt", missing)
	}
	est := w.call(t, "GET", base+"/estimate", tok, "")
	if est.status != 200 || est.m["total_fen"].(float64) <= 0 || len(est.m["lines"].([]any)[0].(map[string]any)["steps"].([]any)) == 0 {
		t.Fatalf("estimate = %d %s", est.status, est.body)
	}
	estimated := model.Fen(est.m["total_fen"].(float64))

	if r := w.call(t, "POST", base+"/submit", tok, ""); r.status != 409 || r.str("code") != "claim.docs_missing" {
		t.Errorf("submit without documents = %d %s", r.status, r.body)
	}
	if r := w.upload(t, base+"/documents", tok, "receipt", []byte("<html>not a photo</html>")); r.status != 400 || r.str("code") != "claim.doc_type" {
		t.Errorf("upload html = %d %s, want 400 claim.doc_type", r.status, r.body)
	}
	photo := receiptPhoto(t)
	d1 := w.upload(t, base+"/documents", tok, "receipt", photo)
	d2 := w.upload(t, base+"/documents", tok, "social_card", []byte("%PDF-1.4\n社保卡复印件\n%%EOF\n"))
	if d1.status != 201 || d2.status != 201 {
		t.Fatalf("uploads = %d %s / %d %s", d1.status, d1.body, d2.status, d2.body)
	}
	// The worker sees the photo back without where it was taken.
	req := httptest.NewRequest("GET", fmt.Sprintf("%s/documents/%d", base, int(d1.m["id"].(float64))), nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	got, err := w.app.Test(req, -1)
	must(t, err)
	back, _ := io.ReadAll(got.Body)
	if got.StatusCode != 200 || got.Header.Get("Content-Type") != "image/jpeg" || bytes.Contains(back, []byte("38.0428")) || len(back) == 0 {
		t.Errorf("document back = %d %s, %d bytes, location removed: %v", got.StatusCode, got.Header.Get("Content-Type"), len(back),
			!bytes.Contains(back, []byte("38.0428")))
	}
	if r := w.call(t, "POST", base+"/submit", tok, ""); r.status != 200 || r.m["status"].(map[string]any)["code"] != "submitted" {
		t.Fatalf("submit = %d %s", r.status, r.body)
	}

	var m model.Member
	must(t, w.db.Take(&m, a.ID).Error)
	union := model.Actor{Via: model.ViaConsole, Username: "u1-li", Role: model.RoleUnion, UnionID: m.UnionID}
	office := model.Actor{Via: model.ViaConsole, Username: "bsc-wang", Role: model.RoleOperator}
	if _, err := w.claims.Return(ctx, union, id, "docs_unclear", "收据照片看不清金额，请重新拍"); err != nil {
		t.Fatal(err)
	}
	r = w.call(t, "GET", base, tok, "")
	if r.m["status"].(map[string]any)["code"] != "returned" || r.m["returned"].(map[string]any)["note"] != "收据照片看不清金额，请重新拍" {
		t.Fatalf("after return = %s", r.body)
	}
	if r := w.call(t, "DELETE", fmt.Sprintf("%s/documents/%d", base, int(d1.m["id"].(float64))), tok, ""); r.status != 204 {
		t.Errorf("delete the unclear photo = %d %s", r.status, r.body)
	}
	if r := w.upload(t, base+"/documents", tok, "receipt", photo); r.status != 201 {
		t.Fatalf("upload again = %d %s", r.status, r.body)
	}
	if r := w.call(t, "POST", base+"/submit", tok, `{"note":"已重新拍照"}`); r.status != 200 {
		t.Fatalf("resubmit = %d %s", r.status, r.body)
	}
	if _, err := w.claims.Approve(ctx, union, id); err != nil {
		t.Fatal(err)
	}
	if _, err := w.claims.Confirm(ctx, office, id); err != nil {
		t.Fatal(err)
	}

	// The month's run settles it, 办事处 pays it, the bank's result says it arrived.
	engine, err := policy.Load(config.PolicyYAML)
	must(t, err)
	cal := calendar.New(model.Shanghai)
	settle := settlement.New(w.db, engine, cal, kvtest.New(t), settlement.Options{}, w.clock, nil)
	pay := payment.New(w.db, w.cipher, cal, w.clock, nil)
	p, err := cal.ParsePeriod("2025-05")
	must(t, err)
	run, err := settle.Compute(ctx, p, opActor("bsc-wang"))
	must(t, err)
	if run.TotalFen != estimated {
		t.Errorf("run pays %s, the estimate before submitting said %s", run.TotalFen, estimated)
	}
	_, err = settle.Approve(ctx, run.ID, opActor("bsc-zhao"))
	must(t, err)
	r = w.call(t, "GET", base, tok, "")
	if r.m["status"].(map[string]any)["code"] != "settled" || model.Fen(r.m["amount_fen"].(float64)) != estimated {
		t.Errorf("after the run = %s, want 已核算 with the amount", r.body)
	}
	exp, err := pay.Export(ctx, run.ID, opActor("bsc-wang"))
	must(t, err)
	if len(exp.Files) != 1 {
		t.Fatalf("export = %+v", exp)
	}
	rows, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(exp.Files[0].CSV, []byte("\ufeff")))).ReadAll()
	must(t, err)
	result := "转账编号,结果,到账时间\n" + rows[1][0] + ",成功,2025-06-15 09:00:00\n"
	if rep, err := pay.ImportResult(ctx, "result.csv", strings.NewReader(result), opActor("bsc-wang")); err != nil || len(rep.Problems) > 0 {
		t.Fatalf("result = %+v, %v", rep, err)
	}
	r = w.call(t, "GET", base, tok, "")
	if r.m["status"].(map[string]any)["code"] != "paid" {
		t.Errorf("after the bank's result = %s, want 已到账", r.body)
	}
	var kinds []string
	must(t, w.db.Model(&model.Notification{}).Where("member_id = ? AND kind LIKE ?", a.ID, "claim%").Order("id").Pluck("kind", &kinds).Error)
	if strings.Join(kinds, ",") != "claim_returned,claim_confirmed" {
		t.Errorf("claim notices = %v, want the return and the confirmation", kinds)
	}
	var notices []model.Notification
	must(t, w.db.Where("member_id = ? AND kind = ?", a.ID, model.NoticeArrived).Find(&notices).Error)
	if len(notices) != 1 || !strings.Contains(notices[0].Payload, fmt.Sprintf(`"amount_fen":%d`, estimated)) {
		t.Errorf("arrival notices = %+v, want one for %s", notices, estimated)
	}
	var line model.PayoutLine
	must(t, w.db.Joins("JOIN medical_records r ON r.id = payout_lines.record_id").Where("r.claim_id = ?", id).Take(&line).Error)
	if d := w.call(t, "GET", fmt.Sprintf("/api/v1/payouts/%d", line.ID), tok, ""); d.str("origin") != "claim" ||
		!strings.Contains(d.str("origin_label"), "补充申请") {
		t.Errorf("payout detail = %s, want it to say the record came from the claim", d.body)
	}

	// June's 医保 file brings the same bill (with the hospital spelled with a space): not paid again.
	w.advance(31 * 24 * 3600 * 1e9)
	imp := importer.New(w.db, w.cipher, importer.Options{}, w.clock, nil)
	feed := "结算单号,社保卡号,类别,就诊日期,出院日期,医院,医疗费总额,自付一,超封顶线自付一,重大疾病\n" +
		"YB-LATE-1," + a.Social + ",特病住院,2025-05-03,2025-05-20,河北省 示例医院,300000,20000,60000,是\n"
	if rep, err := imp.Medical(ctx, "yb-2025-06.csv", strings.NewReader(feed), opActor("bsc-wang")); err != nil || rep.Added != 1 {
		t.Fatalf("late feed = %+v, %v", rep, err)
	}
	june, err := cal.ParsePeriod("2025-06")
	must(t, err)
	run2, err := settle.Compute(ctx, june, opActor("bsc-wang"))
	must(t, err)
	var late model.PayoutLine
	must(t, w.db.Joins("JOIN medical_records r ON r.id = payout_lines.record_id").Where("r.record_no = ?", "YB-LATE-1").Take(&late).Error)
	if late.RunID != run2.ID || late.Eligible || late.AmountFen != 0 || !strings.Contains(late.Reason, "补充申请") {
		t.Errorf("late feed line = %+v, want refused in run %d as paid through the claim", late, run2.ID)
	}
	if run2.TotalFen != 0 {
		t.Errorf("June's run pays %s, want nothing", run2.TotalFen)
	}
}

func jsonInto(b []byte, v any) error { return json.Unmarshal(b, v) }

// opActor is 办事处 staff acting through the console.
func opActor(name string) model.Actor {
	return model.Actor{Username: name, Role: model.RoleOperator, Via: model.ViaConsole}
}
