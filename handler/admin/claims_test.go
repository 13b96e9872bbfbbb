package admin_test

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/jpeg"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"huzhu/model"
	"huzhu/service/claim"
	"huzhu/service/staff"
)

// submittedClaim is a worker's above-cap claim of 张一 (union U1) with a photo and a PDF, submitted.
func (w *world) submittedClaim() (claim.Claim, []byte) {
	w.t.Helper()
	ctx := context.Background()
	id := w.memberID("张一")
	c, err := w.claims.Start(ctx, id, claim.Input{Kind: "above_cap", ClaimType: "特病住院", VisitDate: "2025-06-02",
		DischargeDate: "2025-06-12", Hospital: "河北示例医院", TotalFen: 9000000, SelfPay1Fen: 1000000, AboveCapFen: 3000000, MajorDisease: true})
	if err != nil {
		w.t.Fatal(err)
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, image.NewGray(image.Rect(0, 0, 4, 4)), nil); err != nil {
		w.t.Fatal(err)
	}
	photo := b.Bytes()
	if _, err := w.claims.Attach(ctx, id, c.ID, model.DocReceipt, bytes.NewReader(photo)); err != nil {
		w.t.Fatal(err)
	}
	if _, err := w.claims.Attach(ctx, id, c.ID, model.DocSocialCard, strings.NewReader("%PDF-1.4\n%%EOF\n")); err != nil {
		w.t.Fatal(err)
	}
	if c, err = w.claims.Submit(ctx, id, c.ID, ""); err != nil {
		w.t.Fatal(err)
	}
	return c, photo
}

// TestClaimReview is the console side of a claim: only its own union (and 办事处, 市总) see it and
// its documents; the union returns it with a reason, then approves; 办事处 confirms, and not the
// person who approved; every step is in the audit log.
func TestClaimReview(t *testing.T) {
	w := newWorld(t)
	if _, err := w.staff.CreateAccount(context.Background(), model.Actor{Username: "test", Via: model.ViaSystem},
		staff.NewUser{Username: "u2", Role: model.RoleUnion, UnionCode: "U2", Password: password}); err != nil {
		t.Fatal(err)
	}
	c, photo := w.submittedClaim()
	page := fmt.Sprintf("/admin/claims/%d", c.ID)
	var docID uint64
	if err := w.db.Model(&model.ClaimDocument{}).Where("claim_id = ? AND kind = ?", c.ID, model.DocReceipt).Pluck("id", &docID).Error; err != nil {
		t.Fatal(err)
	}
	doc := fmt.Sprintf("%s/documents/%d", page, docID)

	other := w.login("u2")
	if _, body := other.get("/admin/claims"); strings.Contains(body, "河北示例医院") {
		t.Error("another union's queue lists the claim")
	}
	for _, path := range []string{page, doc} {
		if res, body := other.get(path); res.StatusCode != http.StatusNotFound || strings.Contains(body, "河北示例医院") {
			t.Errorf("another union GET %s = %d, want 404 with nothing of the claim", path, res.StatusCode)
		}
	}
	if res, _ := w.login("aud").get(doc); res.StatusCode != http.StatusNotFound {
		t.Errorf("auditor opens a document: %d, want 404", res.StatusCode)
	}

	union := w.login("u1")
	if _, body := union.get("/admin/claims"); !strings.Contains(body, "河北示例医院") || !strings.Contains(body, page) {
		t.Fatalf("own union's queue does not list the claim: %.800s", body)
	}
	res, body := union.get(page)
	if res.StatusCode != http.StatusOK || !strings.Contains(body, `<img src="`+doc+`"`) || !strings.Contains(body, `id="claim-approve"`) ||
		strings.Contains(body, `id="claim-confirm"`) {
		t.Fatalf("claim page for its union = %d: %.1500s", res.StatusCode, body)
	}
	res, got := union.get(doc)
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "image/jpeg" || got != string(photo) ||
		!strings.HasPrefix(res.Header.Get("Content-Disposition"), "inline") {
		t.Errorf("document for its union = %d %s %q, %d bytes", res.StatusCode, res.Header.Get("Content-Type"), res.Header.Get("Content-Disposition"), len(got))
	}
	if res, body := union.post(page+"/return", url.Values{"reason": {"other"}}); res.StatusCode != http.StatusBadRequest ||
		!strings.Contains(body, "请写明需要补充什么") {
		t.Errorf("return 'other' without words = %d: %.500s", res.StatusCode, body)
	}
	if res, _ := union.post(page+"/return", url.Values{"reason": {"docs_unclear"}, "note": {"收据金额看不清"}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("return = %d", res.StatusCode)
	}
	if _, err := w.claims.Submit(context.Background(), c.MemberID, c.ID, "重新拍了"); err != nil {
		t.Fatal(err)
	}
	if res, _ := union.post(page+"/approve", nil); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("approve = %d", res.StatusCode)
	}
	if res, body := union.post(page+"/confirm", nil); res.StatusCode != http.StatusForbidden || !strings.Contains(body, "只有办事处") {
		t.Errorf("the union confirms = %d: %.300s", res.StatusCode, body)
	}
	office := w.login("op1")
	if _, body := office.get(page); !strings.Contains(body, `id="claim-confirm"`) {
		t.Fatalf("办事处 sees no confirm form: %.1500s", body)
	}
	if res, _ := office.post(page+"/confirm", nil); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("confirm = %d", res.StatusCode)
	}
	if _, body := office.get(page); !strings.Contains(body, "办事处已确认") {
		t.Errorf("after confirmation the page says: %.500s", body)
	}
	// The dashboard counts it: U1 has one claim 办事处已确认; another union sees none of it.
	if _, body := office.get("/admin/"); !regexp.MustCompile(`<tr><td>U1</td><td>第一工会</td>(<td class="n">0</td>){3}<td class="n">1</td>`).MatchString(body) {
		t.Errorf("dashboard claims table: %.300s", body[strings.Index(body, "claims-by-union"):])
	}
	if _, body := other.get("/admin/"); strings.Contains(body, "<td>U1</td><td>第一工会</td><td class=\"n\">") {
		t.Error("another union's dashboard counts U1's claims")
	}
	var actions []string
	w.db.Model(&model.AuditLog{}).Where("target = ?", fmt.Sprintf("claim:%d", c.ID)).Order("id").Pluck("action", &actions)
	if strings.Join(actions, ",") != "claim.document_view,claim.return,claim.union_approve,claim.confirm" {
		t.Errorf("audit = %v", actions)
	}
}

// TestClaimFourEyesInConsole: 市总's admin may approve for a union, but then someone else confirms.
func TestClaimFourEyesInConsole(t *testing.T) {
	w := newWorld(t)
	c, _ := w.submittedClaim()
	page := fmt.Sprintf("/admin/claims/%d", c.ID)
	admin := w.login("admin")
	if res, _ := admin.post(page+"/approve", nil); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("approve = %d", res.StatusCode)
	}
	if _, body := admin.get(page); strings.Contains(body, `id="claim-confirm"`) {
		t.Error("the approver is offered the confirmation")
	}
	if res, body := admin.post(page+"/confirm", nil); res.StatusCode != http.StatusForbidden || !strings.Contains(body, "两个人") {
		t.Errorf("the approver confirms = %d: %.300s", res.StatusCode, body)
	}
	if res, _ := w.login("op2").post(page+"/confirm", nil); res.StatusCode != http.StatusSeeOther {
		t.Errorf("another person confirms = %d", res.StatusCode)
	}
}
