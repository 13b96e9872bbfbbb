package claim_test

import (
	"bytes"
	"context"
	"image"
	"image/jpeg"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"gorm.io/gorm"
	"huzhu/config"
	"huzhu/model"
	"huzhu/service/blob"
	"huzhu/service/calendar"
	"huzhu/service/claim"
	"huzhu/service/errs"
	"huzhu/service/payout"
	"huzhu/service/pii"
	"huzhu/service/policy"
	"huzhu/service/store/storetest"
)

var now = time.Date(2026, 11, 10, 10, 0, 0, 0, model.Shanghai)

type fixture struct {
	t        *testing.T
	db       *gorm.DB
	cipher   *pii.Cipher
	svc      *claim.Service
	store    blob.Store
	root     string // the directory store's root, "" for S3
	clock    time.Time
	u1, u2   model.Union
	worker   model.Member
	other    model.Member
	union1   model.Actor
	union2   model.Actor
	operator model.Actor
	admin    model.Actor
	auditor  model.Actor
}

func newFixture(t *testing.T, st blob.Store, o claim.Options) *fixture {
	t.Helper()
	db := storetest.NewDB(t)
	engine, err := policy.Load(config.PolicyYAML)
	if err != nil {
		t.Fatal(err)
	}
	cipher, err := pii.New(bytes.Repeat([]byte("k"), pii.MinKeyLen))
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, db: db, cipher: cipher, clock: now}
	if st == nil {
		f.root = t.TempDir()
		d, err := blob.NewDir(f.root)
		if err != nil {
			t.Fatal(err)
		}
		st = d
	}
	f.store = st
	clock := func() time.Time { return f.clock }
	est := payout.New(db, engine, calendar.New(model.Shanghai), payout.Options{}, clock)
	if o.SpoolDir == "" {
		o.SpoolDir = t.TempDir()
	}
	f.svc = claim.New(db, cipher, st, est, o, clock, nil)
	f.u1 = model.Union{Code: "U1", Name: "第一工会", PaysDues: true}
	f.u2 = model.Union{Code: "U2", Name: "第二工会", PaysDues: true}
	for _, u := range []*model.Union{&f.u1, &f.u2} {
		if err := db.Create(u).Error; err != nil {
			t.Fatal(err)
		}
	}
	f.worker = f.member("王五", f.u1.ID, "1")
	f.other = f.member("赵六", f.u1.ID, "2")
	f.union1 = model.Actor{Via: model.ViaConsole, Username: "u1-staff", Role: model.RoleUnion, UnionID: f.u1.ID}
	f.union2 = model.Actor{Via: model.ViaConsole, Username: "u2-staff", Role: model.RoleUnion, UnionID: f.u2.ID}
	f.operator = model.Actor{Via: model.ViaConsole, Username: "op", Role: model.RoleOperator}
	f.admin = model.Actor{Via: model.ViaConsole, Username: "admin", Role: model.RoleAdmin}
	f.auditor = model.Actor{Via: model.ViaConsole, Username: "aud", Role: model.RoleAuditor}
	return f
}

func (f *fixture) member(name string, union uint64, n string) model.Member {
	f.t.Helper()
	card := f.cipher.Seal(pii.KindJingCard, "621799000000000"+n)
	m := model.Member{UnionID: union, Name: name, IDNumberEnc: []byte{1}, IDNumberHash: "id" + n, IDLast4: "000" + n,
		InsuredBeijing: true, Employment: model.EmploymentInService, Kind: model.WorkerUrban, Participation: model.ParticipationFree,
		JoinedOn: "2010-01-01", JingCardEnc: card.Enc, JingCardHash: card.Hash, JingCardLast4: card.Last4}
	if err := f.db.Create(&m).Error; err != nil {
		f.t.Fatal(err)
	}
	return m
}

func aboveCapInput() claim.Input {
	return claim.Input{Kind: "above_cap", ClaimType: "特病住院", VisitDate: "2026-10-02", DischargeDate: "2026-10-20",
		Hospital: "北京示例医院", TotalFen: 80000000, SelfPay1Fen: 1200000, AboveCapFen: 5000000, MajorDisease: true}
}

func pdf(marker string) []byte {
	return []byte("%PDF-1.4\n1 0 obj << /Title (" + marker + ") >> endobj\n%%EOF\n")
}

func photo(t *testing.T) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, image.NewGray(image.Rect(0, 0, 8, 8)), nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func wantCode(t *testing.T, what string, err error, code string) {
	t.Helper()
	e, ok := errs.As(err)
	if !ok || e.Code != code {
		t.Fatalf("%s: error %v, want code %s", what, err, code)
	}
}

func (f *fixture) attachAll(c claim.Claim) {
	f.t.Helper()
	for _, k := range c.Kind.RequiredDocs() {
		if _, err := f.svc.Attach(context.Background(), f.worker.ID, c.ID, k, bytes.NewReader(pdf("doc "+string(k)))); err != nil {
			f.t.Fatalf("Attach(%s): %v", k, err)
		}
	}
}

func TestStartChecksTheBill(t *testing.T) {
	f := newFixture(t, nil, claim.Options{})
	ctx := context.Background()
	tests := []struct {
		name  string
		edit  func(*claim.Input)
		field string
	}{
		{"unknown kind", func(in *claim.Input) { in.Kind = "x" }, "kind"},
		{"unknown type", func(in *claim.Input) { in.ClaimType = "牙科" }, "claim_type"},
		{"future date", func(in *claim.Input) { in.VisitDate = "2026-12-01"; in.DischargeDate = "2026-12-02" }, "visit_date"},
		{"discharge before visit", func(in *claim.Input) { in.DischargeDate = "2026-09-01" }, "discharge_date"},
		{"inpatient without discharge", func(in *claim.Input) { in.DischargeDate = "" }, "discharge_date"},
		{"no hospital", func(in *claim.Input) { in.Hospital = " " }, "hospital"},
		{"negative", func(in *claim.Input) { in.SelfPay1Fen = -1 }, "self_pay1_fen"},
		{"no amount", func(in *claim.Input) { in.SelfPay1Fen, in.AboveCapFen = 0, 0 }, "self_pay1_fen"},
		{"total too small", func(in *claim.Input) { in.TotalFen = 100 }, "total_fen"},
		{"above cap kind without above-cap amount", func(in *claim.Input) { in.AboveCapFen = 0 }, "above_cap_fen"},
		{"above cap without major disease", func(in *claim.Input) { in.MajorDisease = false }, "major_disease"},
		{"absurd amount", func(in *claim.Input) { in.TotalFen = payout.MaxAmountFen + 1 }, "total_fen"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := aboveCapInput()
			tc.edit(&in)
			_, err := f.svc.Start(ctx, f.worker.ID, in)
			if e, ok := errs.As(err); !ok || e.Kind != errs.KindInvalid || e.Field != tc.field {
				t.Errorf("Start = %v, want Invalid on %s", err, tc.field)
			}
		})
	}
	c, err := f.svc.Start(ctx, f.worker.ID, aboveCapInput())
	if err != nil {
		t.Fatal(err)
	}
	if c.Status != model.ClaimDraft || c.UnionID != f.u1.ID || len(c.Missing) != 2 {
		t.Errorf("new claim: status %s, union %d, missing %v; want a draft of union %d missing 2 documents", c.Status, c.UnionID, c.Missing, f.u1.ID)
	}
	_, err = f.svc.Mine(ctx, f.other.ID, c.ID)
	wantCode(t, "another worker's claim", err, "claim.not_found")
}

func TestDocumentsAreCheckedByContent(t *testing.T) {
	f := newFixture(t, nil, claim.Options{MaxDocBytes: 4096, MaxDocs: 2})
	ctx := context.Background()
	c, err := f.svc.Start(ctx, f.worker.ID, aboveCapInput())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		body []byte
		code string
	}{
		{"html named as a photo", []byte("<html><script>alert(1)</script>"), "claim.doc_type"},
		{"zip", []byte("PK\x03\x04 rest"), "claim.doc_type"},
		{"empty", nil, "claim.doc_type"},
		{"too big", append([]byte("%PDF-1.4\n"), bytes.Repeat([]byte("x"), 4096)...), "claim.doc_too_big"},
		{"broken JPEG", photo(t)[:40], "claim.doc_damaged"},
	} {
		_, err := f.svc.Attach(ctx, f.worker.ID, c.ID, model.DocReceipt, bytes.NewReader(tc.body))
		wantCode(t, tc.name, err, tc.code)
	}
	if n := countFiles(t, f.root); n != 0 {
		t.Errorf("%d objects stored after refused uploads, want 0", n)
	}
	if _, err := f.svc.Attach(ctx, f.worker.ID, c.ID, "passport", bytes.NewReader(pdf("x"))); err == nil {
		t.Error("unknown document kind accepted")
	}
	for i := range 2 {
		if _, err := f.svc.Attach(ctx, f.worker.ID, c.ID, model.DocReceipt, bytes.NewReader(photo(t))); err != nil {
			t.Fatalf("Attach %d: %v", i, err)
		}
	}
	_, err = f.svc.Attach(ctx, f.worker.ID, c.ID, model.DocReceipt, bytes.NewReader(photo(t)))
	wantCode(t, "third document of two allowed", err, "claim.too_many_docs")
	if n := countFiles(t, f.root); n != 2 {
		t.Errorf("%d objects stored, want the 2 accepted", n)
	}
	_, err = f.svc.Attach(ctx, f.other.ID, c.ID, model.DocReceipt, bytes.NewReader(photo(t)))
	wantCode(t, "another worker's claim", err, "claim.not_found")
}

func countFiles(t *testing.T, root string) int {
	t.Helper()
	n := 0
	_ = filepath.Walk(root, func(_ string, fi os.FileInfo, _ error) error {
		if fi != nil && !fi.IsDir() {
			n++
		}
		return nil
	})
	return n
}

// TestReviewFlow walks a claim through submit, return, resubmit, union approval and 办事处's
// confirmation, with the refusals on the way.
func TestReviewFlow(t *testing.T) {
	f := newFixture(t, nil, claim.Options{})
	ctx := context.Background()
	c, err := f.svc.Start(ctx, f.worker.ID, aboveCapInput())
	if err != nil {
		t.Fatal(err)
	}
	est, err := f.svc.Estimate(ctx, f.worker.ID, c.ID)
	if err != nil || len(est.Lines) != 1 || est.TotalFen <= 0 || len(est.Lines[0].Steps) == 0 {
		t.Fatalf("Estimate = %+v, %v; want one explained line that pays", est, err)
	}
	_, err = f.svc.Submit(ctx, f.worker.ID, c.ID, "")
	wantCode(t, "submit without documents", err, "claim.docs_missing")
	f.attachAll(c)
	if c, err = f.svc.Submit(ctx, f.worker.ID, c.ID, ""); err != nil || c.Status != model.ClaimSubmitted {
		t.Fatalf("Submit = %s, %v", c.Status, err)
	}
	_, err = f.svc.Update(ctx, f.worker.ID, c.ID, aboveCapInput())
	wantCode(t, "edit while with the union", err, "claim.not_editable")

	_, err = f.svc.Approve(ctx, f.union2, c.ID)
	wantCode(t, "another union approves", err, "claim.not_found")
	_, err = f.svc.Approve(ctx, f.operator, c.ID)
	wantCode(t, "办事处 approves for the union", err, "claim.forbidden")
	_, err = f.svc.Return(ctx, f.union1, c.ID, "nonsense", "")
	if errs.KindOf(err) != errs.KindInvalid {
		t.Errorf("return with an unknown reason: %v, want Invalid", err)
	}
	_, err = f.svc.Return(ctx, f.union1, c.ID, "other", "")
	if errs.KindOf(err) != errs.KindInvalid {
		t.Errorf("return 'other' without words: %v, want Invalid", err)
	}
	if c, err = f.svc.Return(ctx, f.union1, c.ID, "docs_unclear", "收据第二页看不清"); err != nil || c.Status != model.ClaimReturned {
		t.Fatalf("Return = %s, %v", c.Status, err)
	}
	_, err = f.svc.Submit(ctx, f.worker.ID, c.ID, "重新拍了")
	if err != nil {
		t.Fatalf("resubmit: %v", err) // the documents are there; the answer is the note
	}
	if c, err = f.svc.Approve(ctx, f.union1, c.ID); err != nil || c.Status != model.ClaimUnionApproved {
		t.Fatalf("Approve = %s, %v", c.Status, err)
	}
	_, err = f.svc.Confirm(ctx, f.union1, c.ID)
	wantCode(t, "the union confirms for 办事处", err, "claim.forbidden")
	_, err = f.svc.Confirm(ctx, f.auditor, c.ID)
	wantCode(t, "auditor confirms", err, "claim.forbidden")
	if c, err = f.svc.Confirm(ctx, f.operator, c.ID); err != nil || c.Status != model.ClaimConfirmed || c.RecordID == 0 {
		t.Fatalf("Confirm = %+v, %v", c.Claim, err)
	}
	var kinds []string
	f.db.Model(&model.Notification{}).Where("member_id = ?", f.worker.ID).Order("id").Pluck("kind", &kinds)
	if strings.Join(kinds, ",") != "claim_returned,claim_confirmed" {
		t.Errorf("notices to the worker = %v, want the return and the confirmation", kinds)
	}
	var rec model.MedicalRecord
	if err := f.db.Take(&rec, c.RecordID).Error; err != nil {
		t.Fatal(err)
	}
	if rec.Source != model.SourceApplication || rec.ClaimID != c.ID || rec.SelfPay1Fen != 1200000 || rec.AboveCapFen != 5000000 ||
		rec.MemberID != f.worker.ID || rec.SettlementRunID != 0 {
		t.Errorf("record = %+v, want an unsettled application record of the claim's bill", rec)
	}
	_, err = f.svc.Withdraw(ctx, f.worker.ID, c.ID)
	wantCode(t, "withdraw after confirmation", err, "claim.not_withdrawable")
	var actions []string
	f.db.Model(&model.AuditLog{}).Where("target = ?", "claim:1").Order("id").Pluck("action", &actions)
	if strings.Join(actions, ",") != "claim.return,claim.union_approve,claim.confirm" {
		t.Errorf("audit actions %v, want return, approve, confirm", actions)
	}
}

func TestFourEyes(t *testing.T) {
	f := newFixture(t, nil, claim.Options{})
	ctx := context.Background()
	c, err := f.svc.Start(ctx, f.worker.ID, aboveCapInput())
	if err != nil {
		t.Fatal(err)
	}
	f.attachAll(c)
	if _, err := f.svc.Submit(ctx, f.worker.ID, c.ID, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Approve(ctx, f.admin, c.ID); err != nil {
		t.Fatal(err)
	}
	_, err = f.svc.Confirm(ctx, f.admin, c.ID)
	wantCode(t, "the approver confirms", err, "claim.four_eyes")
	if _, err := f.svc.Confirm(ctx, f.operator, c.ID); err != nil {
		t.Errorf("another person confirms: %v", err)
	}
}

func TestConfirmFlagsABillAlreadyInTheFeed(t *testing.T) {
	f := newFixture(t, nil, claim.Options{})
	ctx := context.Background()
	c, err := f.svc.Start(ctx, f.worker.ID, aboveCapInput())
	if err != nil {
		t.Fatal(err)
	}
	f.attachAll(c)
	feed := model.MedicalRecord{RecordNo: "YB1", MemberID: f.worker.ID, ClaimType: model.ClaimSpecialInpatient, VisitDate: "2026-10-02",
		DischargeDate: "2026-10-20", Hospital: "北京示例医院 ", SelfPay1Fen: 1200000}
	if err := f.db.Create(&feed).Error; err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Submit(ctx, f.worker.ID, c.ID, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Approve(ctx, f.union1, c.ID); err != nil {
		t.Fatal(err)
	}
	_, err = f.svc.Confirm(ctx, f.operator, c.ID)
	wantCode(t, "confirm a bill in the feed", err, "claim.duplicate")
	got, err := f.svc.Review(ctx, f.operator, c.ID)
	if err != nil || got.DuplicateOf != feed.ID || got.Status != model.ClaimUnionApproved || got.RecordID != 0 {
		t.Errorf("after the refusal: %+v, %v; want flagged with record %d, still awaiting 办事处, no record", got.Claim, err, feed.ID)
	}
	var n int64
	f.db.Model(&model.MedicalRecord{}).Where("source = ?", model.SourceApplication).Count(&n)
	if n != 0 {
		t.Errorf("%d application records, want none", n)
	}
	if _, err := f.svc.Return(ctx, f.operator, c.ID, "in_feed", ""); err != nil {
		t.Errorf("办事处 returns the duplicate: %v", err)
	}
}

// TestDocumentsAreSealedAndScoped runs on both stores: what the store holds is unreadable
// without the key, the worker and the claim's own union read the document back as uploaded
// (metadata removed), and another union or an auditor cannot tell it exists.
func TestDocumentsAreSealedAndScoped(t *testing.T) {
	for _, backend := range []string{"dir", "s3"} {
		t.Run(backend, func(t *testing.T) {
			var st blob.Store
			var raw func(key string) []byte
			if backend == "s3" {
				s3, mem := newS3(t)
				st = s3
				raw = func(key string) []byte {
					obj, err := mem.GetObject("docs", key, nil)
					if err != nil {
						t.Fatalf("raw object %s: %v", key, err)
					}
					defer obj.Contents.Close()
					b, _ := io.ReadAll(obj.Contents)
					return b
				}
			}
			f := newFixture(t, st, claim.Options{})
			if raw == nil {
				raw = func(key string) []byte {
					b, err := os.ReadFile(filepath.Join(f.root, key))
					if err != nil {
						t.Fatalf("raw file %s: %v", key, err)
					}
					return b
				}
			}
			ctx := context.Background()
			c, err := f.svc.Start(ctx, f.worker.ID, aboveCapInput())
			if err != nil {
				t.Fatal(err)
			}
			secret := "社保卡 900000000001 王五 白血病"
			body := pdf(secret)
			doc, err := f.svc.Attach(ctx, f.worker.ID, c.ID, model.DocSocialCard, bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			stored := raw(doc.StorageKey)
			if bytes.Contains(stored, []byte("900000000001")) || bytes.Contains(stored, []byte("%PDF")) || len(stored) == 0 {
				t.Fatal("the store holds the document in clear")
			}
			if bytes.Contains(doc.DataKey, stored[:8]) || len(doc.DataKey) == 0 {
				t.Fatal("no sealed data key")
			}
			other, err := pii.New(bytes.Repeat([]byte("z"), pii.MinKeyLen))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := other.Decrypt(doc.DataKey); err == nil {
				t.Fatal("the data key opens under another personal-data key")
			}
			read := func(who string, open func() (*claim.DocumentReader, error)) []byte {
				t.Helper()
				r, err := open()
				if err != nil {
					t.Fatalf("%s opens the document: %v", who, err)
				}
				defer r.Close()
				b, err := io.ReadAll(r)
				if err != nil {
					t.Fatalf("%s reads the document: %v", who, err)
				}
				return b
			}
			if got := read("the worker", func() (*claim.DocumentReader, error) { return f.svc.MyDocument(ctx, f.worker.ID, c.ID, doc.ID) }); !bytes.Equal(got, body) {
				t.Errorf("the worker reads %q, want %q", got, body)
			}
			for _, st := range []model.Actor{f.union1, f.operator, f.admin} {
				if got := read(st.Username, func() (*claim.DocumentReader, error) { return f.svc.StaffDocument(ctx, st, c.ID, doc.ID) }); !bytes.Equal(got, body) {
					t.Errorf("%s reads %d bytes, want the document", st.Username, len(got))
				}
			}
			for _, st := range []model.Actor{f.union2, f.auditor, {Username: "x", Role: model.RoleUnion, Via: model.ViaConsole}} {
				_, err := f.svc.StaffDocument(ctx, st, c.ID, doc.ID)
				wantCode(t, st.Username+" opens another union's document", err, "claim.doc_not_found")
			}
			_, err = f.svc.MyDocument(ctx, f.other.ID, c.ID, doc.ID)
			wantCode(t, "another worker", err, "claim.not_found")
			var views int64
			f.db.Model(&model.AuditLog{}).Where("action = ?", "claim.document_view").Count(&views)
			if views != 3 {
				t.Errorf("%d document views audited, want 3", views)
			}
		})
	}
}

func newS3(t *testing.T) (*blob.S3, *s3mem.Backend) {
	t.Helper()
	mem := s3mem.New()
	srv := httptest.NewServer(gofakes3.New(mem).Server())
	t.Cleanup(srv.Close)
	if err := mem.CreateBucket("docs"); err != nil {
		t.Fatal(err)
	}
	s, err := blob.NewS3(blob.S3Options{Endpoint: srv.URL, Bucket: "docs", AccessKey: "k", SecretKey: "s", Region: "us-east-1"})
	if err != nil {
		t.Fatal(err)
	}
	return s, mem
}

func TestPurgeDeletesDocumentsOfEndedClaims(t *testing.T) {
	f := newFixture(t, nil, claim.Options{KeepDocs: 30 * 24 * time.Hour})
	ctx := context.Background()
	ended, err := f.svc.Start(ctx, f.worker.ID, aboveCapInput())
	if err != nil {
		t.Fatal(err)
	}
	live, err := f.svc.Start(ctx, f.worker.ID, aboveCapInput())
	if err != nil {
		t.Fatal(err)
	}
	f.attachAll(ended)
	f.attachAll(live)
	if _, err := f.svc.Withdraw(ctx, f.worker.ID, ended.ID); err != nil {
		t.Fatal(err)
	}
	if n, err := f.svc.Purge(ctx, 0); err != nil || n != 0 {
		t.Errorf("Purge the day of withdrawal = %d, %v; want nothing yet", n, err)
	}
	f.clock = f.clock.Add(31 * 24 * time.Hour)
	if n, err := f.svc.Purge(ctx, 0); err != nil || n != 2 {
		t.Errorf("Purge a month later = %d, %v; want the 2 documents of the withdrawn claim", n, err)
	}
	if n := countFiles(t, f.root); n != 2 {
		t.Errorf("%d objects left, want the 2 of the live claim", n)
	}
	got, err := f.svc.Mine(ctx, f.worker.ID, ended.ID)
	if err != nil || len(got.Documents) != 0 {
		t.Errorf("withdrawn claim lists %d documents, want none", len(got.Documents))
	}
	var keys int64
	f.db.Model(&model.ClaimDocument{}).Where("claim_id = ? AND data_key IS NOT NULL", ended.ID).Count(&keys)
	if keys != 0 {
		t.Errorf("%d data keys kept for deleted documents", keys)
	}
}
