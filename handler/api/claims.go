package api

import (
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"huzhu/model"
	"huzhu/service/claim"
	"huzhu/service/errs"
)

// WithClaims adds the supplementary-claim routes, served by claims, to what Mount installs.
func (a *API) WithClaims(claims *claim.Service) *API {
	a.claims = claims
	return a
}

func (a *API) mountClaims(v1 fiber.Router) {
	if a.claims == nil {
		return
	}
	v1.Get("/claims/requirements", a.claimRequirements)
	v1.Get("/claims", a.auth, a.bound, a.listClaims)
	v1.Post("/claims", a.auth, a.bound, a.startClaim)
	v1.Get("/claims/:id", a.auth, a.bound, a.claimDetail)
	v1.Put("/claims/:id", a.auth, a.bound, a.updateClaim)
	v1.Get("/claims/:id/estimate", a.auth, a.bound, a.claimEstimate)
	v1.Post("/claims/:id/documents", a.auth, a.bound, a.attachDocument)
	v1.Get("/claims/:id/documents/:doc", a.auth, a.bound, a.claimDocument)
	v1.Delete("/claims/:id/documents/:doc", a.auth, a.bound, a.removeDocument)
	v1.Post("/claims/:id/submit", a.auth, a.bound, a.submitClaim)
	v1.Post("/claims/:id/withdraw", a.auth, a.bound, a.withdrawClaim)
}

type claimKindJSON struct {
	Code     string      `json:"code"`
	Label    string      `json:"label"`
	Required []codeLabel `json:"required"`
}

type requirementsResponse struct {
	Kinds       []claimKindJSON `json:"kinds"`
	Documents   []codeLabel     `json:"documents"`
	MaxBytes    int64           `json:"max_bytes"`
	MaxDocs     int             `json:"max_docs"`
	Types       []string        `json:"types"`
	ReturnCodes []codeLabel     `json:"return_reasons"`
}

func docLabels(ks []model.DocKind) []codeLabel {
	out := make([]codeLabel, 0, len(ks))
	for _, k := range ks {
		out = append(out, codeLabel{Code: string(k), Label: k.Label()})
	}
	return out
}

func (a *API) claimRequirements(c *fiber.Ctx) error {
	maxBytes, maxDocs := a.claims.Limits()
	r := requirementsResponse{Documents: docLabels(model.DocKinds), MaxBytes: maxBytes, MaxDocs: maxDocs,
		Types: []string{claim.MIMEJPEG, claim.MIMEPNG, claim.MIMEPDF}}
	for _, k := range model.ClaimKinds {
		r.Kinds = append(r.Kinds, claimKindJSON{Code: string(k), Label: k.Label(), Required: docLabels(k.RequiredDocs())})
	}
	for _, rr := range claim.ReturnReasons {
		r.ReturnCodes = append(r.ReturnCodes, codeLabel{Code: rr.Code, Label: rr.Label})
	}
	c.Set(fiber.HeaderCacheControl, "public, max-age=300")
	return c.JSON(r)
}

type claimRequest struct {
	Kind          string    `json:"kind"`
	ClaimType     string    `json:"claim_type"`
	VisitDate     string    `json:"visit_date"`
	DischargeDate string    `json:"discharge_date"`
	Hospital      string    `json:"hospital"`
	TotalFen      model.Fen `json:"total_fen"`
	SelfPay1Fen   model.Fen `json:"self_pay1_fen"`
	AboveCapFen   model.Fen `json:"above_cap_fen"`
	MajorDisease  bool      `json:"major_disease"`
	Note          string    `json:"note"`
}

func (r claimRequest) input() claim.Input {
	return claim.Input{Kind: r.Kind, ClaimType: r.ClaimType, VisitDate: r.VisitDate, DischargeDate: r.DischargeDate, Hospital: r.Hospital,
		TotalFen: r.TotalFen, SelfPay1Fen: r.SelfPay1Fen, AboveCapFen: r.AboveCapFen, MajorDisease: r.MajorDisease, Note: r.Note}
}

type documentJSON struct {
	ID         uint64 `json:"id"`
	Kind       string `json:"kind"`
	KindLabel  string `json:"kind_label"`
	MIME       string `json:"mime"`
	Size       int64  `json:"size"`
	UploadedAt string `json:"uploaded_at"`
}

type returnJSON struct {
	Reason string  `json:"reason"`
	Label  string  `json:"label"`
	Note   string  `json:"note"`
	At     *string `json:"at"`
}

type claimEventJSON struct {
	Status string `json:"status"`
	Label  string `json:"label"`
	At     string `json:"at"`
}

type claimResponse struct {
	ID             uint64           `json:"id"`
	Kind           codeLabel        `json:"kind"`
	Status         codeLabel        `json:"status"`
	ClaimType      codeLabel        `json:"claim_type"`
	VisitDate      string           `json:"visit_date"`
	DischargeDate  *string          `json:"discharge_date"`
	Hospital       string           `json:"hospital"`
	TotalFen       model.Fen        `json:"total_fen"`
	TotalYuan      string           `json:"total_yuan"`
	SelfPay1Fen    model.Fen        `json:"self_pay1_fen"`
	SelfPay1Yuan   string           `json:"self_pay1_yuan"`
	AboveCapFen    model.Fen        `json:"above_cap_fen"`
	AboveCapYuan   string           `json:"above_cap_yuan"`
	MajorDisease   bool             `json:"major_disease"`
	Note           string           `json:"note"`
	Editable       bool             `json:"editable"`
	Returned       *returnJSON      `json:"returned"`
	Documents      []documentJSON   `json:"documents"`
	Required       []codeLabel      `json:"required"`
	Missing        []codeLabel      `json:"missing"`
	AmountFen      *model.Fen       `json:"amount_fen"`
	AmountYuan     *string          `json:"amount_yuan"`
	SettlementNote *string          `json:"settlement_note"`
	Timeline       []claimEventJSON `json:"timeline"`
	CreatedAt      string           `json:"created_at"`
}

func newClaimResponse(c claim.Claim) claimResponse {
	r := claimResponse{ID: c.ID, Kind: codeLabel{string(c.Kind), c.Kind.Label()}, Status: codeLabel{string(c.Status), c.Status.Label()},
		ClaimType: codeLabel{string(c.ClaimType), c.ClaimType.Label()}, VisitDate: string(c.VisitDate), DischargeDate: optional(string(c.DischargeDate)),
		Hospital: c.Hospital, TotalFen: c.TotalFen, TotalYuan: c.TotalFen.Yuan(), SelfPay1Fen: c.SelfPay1Fen, SelfPay1Yuan: c.SelfPay1Fen.Yuan(),
		AboveCapFen: c.AboveCapFen, AboveCapYuan: c.AboveCapFen.Yuan(), MajorDisease: c.MajorDisease, Note: c.Note, Editable: c.Status.Editable(),
		Documents: make([]documentJSON, 0, len(c.Documents)), Required: docLabels(c.Kind.RequiredDocs()), Missing: docLabels(c.Missing),
		Timeline:  []claimEventJSON{{Status: string(model.ClaimDraft), Label: model.ClaimDraft.Label(), At: timeJSON(c.CreatedAt)}},
		CreatedAt: timeJSON(c.CreatedAt)}
	if c.Status == model.ClaimReturned {
		label := c.ReturnCode
		for _, rr := range claim.ReturnReasons {
			if rr.Code == c.ReturnCode {
				label = rr.Label
			}
		}
		r.Returned = &returnJSON{Reason: c.ReturnCode, Label: label, Note: c.ReturnNote, At: timePtr(c.ReturnedAt)}
	}
	for _, d := range c.Documents {
		r.Documents = append(r.Documents, documentJSON{ID: d.ID, Kind: string(d.Kind), KindLabel: d.Kind.Label(), MIME: d.MIME, Size: d.Size,
			UploadedAt: timeJSON(d.UploadedAt)})
	}
	if c.Status == model.ClaimSettled || c.Status == model.ClaimPaid {
		amt, y := c.AmountFen, c.AmountFen.Yuan()
		r.AmountFen, r.AmountYuan, r.SettlementNote = &amt, &y, optional(c.LineReason)
	}
	for _, e := range []struct {
		st model.ClaimStatus
		at *time.Time
	}{{model.ClaimSubmitted, c.SubmittedAt}, {model.ClaimReturned, c.ReturnedAt}, {model.ClaimUnionApproved, c.UnionApprovedAt},
		{model.ClaimConfirmed, c.ConfirmedAt}, {model.ClaimPaid, c.ArrivedAt}, {model.ClaimWithdrawn, c.WithdrawnAt}} {
		if e.at != nil {
			r.Timeline = append(r.Timeline, claimEventJSON{Status: string(e.st), Label: e.st.Label(), At: timeJSON(*e.at)})
		}
	}
	return r
}

type claimListResponse struct {
	Items []claimResponse `json:"items"`
}

func (a *API) listClaims(c *fiber.Ctx) error {
	cs, err := a.claims.List(c.UserContext(), memberOf(c))
	if err != nil {
		return err
	}
	r := claimListResponse{Items: make([]claimResponse, 0, len(cs))}
	for _, x := range cs {
		r.Items = append(r.Items, newClaimResponse(x))
	}
	return c.JSON(r)
}

func (a *API) startClaim(c *fiber.Ctx) error {
	var req claimRequest
	if err := decode(c, &req); err != nil {
		return err
	}
	cl, err := a.claims.Start(c.UserContext(), memberOf(c), req.input())
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(newClaimResponse(cl))
}

func claimID(c *fiber.Ctx) (uint64, error) {
	id, err := strconv.ParseUint(c.Params("id"), 10, 64)
	if err != nil || id == 0 {
		return 0, errs.NotFound("claim.not_found", "没有找到这个申请")
	}
	return id, nil
}

func (a *API) claimDetail(c *fiber.Ctx) error {
	id, err := claimID(c)
	if err != nil {
		return err
	}
	cl, err := a.claims.Mine(c.UserContext(), memberOf(c), id)
	if err != nil {
		return err
	}
	return c.JSON(newClaimResponse(cl))
}

func (a *API) updateClaim(c *fiber.Ctx) error {
	id, err := claimID(c)
	if err != nil {
		return err
	}
	var req claimRequest
	if err := decode(c, &req); err != nil {
		return err
	}
	cl, err := a.claims.Update(c.UserContext(), memberOf(c), id, req.input())
	if err != nil {
		return err
	}
	return c.JSON(newClaimResponse(cl))
}

func (a *API) claimEstimate(c *fiber.Ctx) error {
	id, err := claimID(c)
	if err != nil {
		return err
	}
	est, err := a.claims.Estimate(c.UserContext(), memberOf(c), id)
	if err != nil {
		return err
	}
	return c.JSON(newEstimateResponse(est, false))
}

// attachDocument takes the document as the "file" part of a multipart form (wx.uploadFile), with
// its kind in the "kind" part or the query.
func (a *API) attachDocument(c *fiber.Ctx) error {
	id, err := claimID(c)
	if err != nil {
		return err
	}
	maxBytes, _ := a.claims.Limits()
	if int64(len(c.Request().Body())) > maxBytes+64<<10 {
		return errs.New(errs.KindInvalid, "claim.doc_too_big", "文件太大了，每份材料不超过"+strconv.FormatInt(maxBytes>>20, 10)+"MB").
			WithFix("请降低照片分辨率或分页上传")
	}
	if !strings.HasPrefix(string(c.Request().Header.ContentType()), fiber.MIMEMultipartForm) {
		return errs.Invalid("file", "请以表单文件上传材料", "用 wx.uploadFile 上传，文件字段名为 file")
	}
	fh, err := c.FormFile("file")
	if err != nil {
		return errs.Invalid("file", "没有收到文件", "用 wx.uploadFile 上传，文件字段名为 file")
	}
	kind := c.FormValue("kind")
	if kind == "" {
		kind = c.Query("kind")
	}
	f, err := fh.Open()
	if err != nil {
		return errs.Invalid("file", "文件无法读取", "请重新选择文件上传")
	}
	defer f.Close()
	doc, err := a.claims.Attach(c.UserContext(), memberOf(c), id, model.DocKind(strings.Clone(kind)), f)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(documentJSON{ID: doc.ID, Kind: string(doc.Kind), KindLabel: doc.Kind.Label(), MIME: doc.MIME,
		Size: doc.Size, UploadedAt: timeJSON(doc.UploadedAt)})
}

func docID(c *fiber.Ctx) (uint64, error) {
	id, err := strconv.ParseUint(c.Params("doc"), 10, 64)
	if err != nil || id == 0 {
		return 0, errs.NotFound("claim.doc_not_found", "没有找到这份材料")
	}
	return id, nil
}

// claimDocument streams the document back, decrypted as it is read.
func (a *API) claimDocument(c *fiber.Ctx) error {
	id, err := claimID(c)
	if err != nil {
		return err
	}
	doc, err := docID(c)
	if err != nil {
		return err
	}
	r, err := a.claims.MyDocument(c.UserContext(), memberOf(c), id, doc)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, r.MIME)
	c.Set(fiber.HeaderCacheControl, "private, no-store")
	c.Set("X-Content-Type-Options", "nosniff")
	c.Set(fiber.HeaderContentDisposition, "inline")
	// fasthttp reads the stream as it writes the response and closes it afterwards.
	return c.SendStream(r, int(r.Size))
}

func (a *API) removeDocument(c *fiber.Ctx) error {
	id, err := claimID(c)
	if err != nil {
		return err
	}
	doc, err := docID(c)
	if err != nil {
		return err
	}
	if err := a.claims.RemoveDocument(c.UserContext(), memberOf(c), id, doc); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

type submitRequest struct {
	Note string `json:"note"`
}

func (a *API) submitClaim(c *fiber.Ctx) error {
	id, err := claimID(c)
	if err != nil {
		return err
	}
	var req submitRequest
	if len(strings.TrimSpace(string(c.Body()))) > 0 {
		if err := decode(c, &req); err != nil {
			return err
		}
	}
	cl, err := a.claims.Submit(c.UserContext(), memberOf(c), id, req.Note)
	if err != nil {
		return err
	}
	return c.JSON(newClaimResponse(cl))
}

func (a *API) withdrawClaim(c *fiber.Ctx) error {
	id, err := claimID(c)
	if err != nil {
		return err
	}
	cl, err := a.claims.Withdraw(c.UserContext(), memberOf(c), id)
	if err != nil {
		return err
	}
	return c.JSON(newClaimResponse(cl))
}
