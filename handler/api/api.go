// Package api is the JSON API of the mini-program and of public pages, under /api/v1, described
// by the OpenAPI 3 document served at /api/openapi.json (openapi.json here, embedded). Handlers
// parse, call one service method and shape the response; errors go to the app's one error
// handler. Amounts are integer fen with a yuan string beside them for display; personal numbers
// appear only masked (尾号1234).
package api

import (
	_ "embed"
	"strings"

	"github.com/gofiber/fiber/v2"

	"huzhu/model"
	"huzhu/service/claim"
	"huzhu/service/member"
	"huzhu/service/payout"
	"huzhu/service/stats"
)

// OpenAPI is the API's OpenAPI 3 document.
//
//go:embed openapi.json
var OpenAPI []byte

// API holds the services the routes call.
type API struct {
	stats   *stats.Service
	members *member.Service
	payouts *payout.Service
	claims  *claim.Service // nil: no claim routes
}

// New returns the API over its services.
func New(st *stats.Service, members *member.Service, payouts *payout.Service) *API {
	return &API{stats: st, members: members, payouts: payouts}
}

// Mount adds the routes to r, the app's root: /api/openapi.json and everything under /api/v1.
// Routes that need a session take "Authorization: Bearer <token>" from POST /api/v1/session;
// those about the member also need the account to be bound.
func (a *API) Mount(r fiber.Router) {
	r.Get("/api/openapi.json", a.openAPI)
	v1 := r.Group("/api/v1")
	v1.Get("/stats", a.overview)

	v1.Post("/session", a.login)
	v1.Post("/session/refresh", a.refresh)
	v1.Post("/eligibility/check", a.checkEligibility)

	v1.Post("/binding", a.auth, a.bind)
	v1.Post("/binding/sms-code", a.auth, a.sendBindCode)
	v1.Post("/binding/desk-code", a.auth, a.deskCode)
	v1.Delete("/binding", a.auth, a.unbind)
	v1.Get("/me", a.auth, a.me)
	v1.Get("/me/eligibility", a.auth, a.myEligibility)
	v1.Get("/me/preferences", a.auth, a.preferences)
	v1.Put("/me/preferences", a.auth, a.updatePreferences)

	v1.Post("/estimates", a.auth, a.bound, a.estimate)
	v1.Get("/estimates/unsettled", a.auth, a.bound, a.estimateUnsettled)
	v1.Get("/payouts", a.auth, a.bound, a.listPayouts)
	v1.Get("/payouts/:id", a.auth, a.bound, a.payoutDetail)
	a.mountClaims(v1)
}

func (a *API) openAPI(c *fiber.Ctx) error {
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSONCharsetUTF8)
	c.Set(fiber.HeaderCacheControl, "public, max-age=300")
	return c.Send(OpenAPI)
}

const principalKey = "huzhu.principal"

// auth verifies the bearer token and keeps the caller for the handler.
func (a *API) auth(c *fiber.Ctx) error {
	h := c.Get(fiber.HeaderAuthorization)
	tok, ok := strings.CutPrefix(h, "Bearer ")
	if !ok {
		tok = ""
	}
	p, err := a.members.Authenticate(c.UserContext(), tok)
	if err != nil {
		return err
	}
	c.Locals(principalKey, p)
	return c.Next()
}

// bound lets only callers whose account is bound to a member through.
func (a *API) bound(c *fiber.Ctx) error {
	if principalOf(c).MemberID == 0 {
		return member.ErrNotBound
	}
	return c.Next()
}

func principalOf(c *fiber.Ctx) member.Principal {
	p, _ := c.Locals(principalKey).(member.Principal)
	return p
}

func memberOf(c *fiber.Ctx) uint64 { return principalOf(c).MemberID }

// overviewResponse shows each amount in fen (exact) and in yuan (for people).
type overviewResponse struct {
	AsOf        string          `json:"as_of"`
	Unions      int64           `json:"unions"`
	Members     int64           `json:"members"`
	Covered     int64           `json:"covered"`
	Helped      int64           `json:"helped"`
	Payouts     int64           `json:"payouts"`
	PaidFen     model.Fen       `json:"paid_fen"`
	PaidYuan    string          `json:"paid_yuan"`
	PendingFen  model.Fen       `json:"pending_fen"`
	PendingYuan string          `json:"pending_yuan"`
	Years       []yearStatsJSON `json:"years"`
}

type yearStatsJSON struct {
	Year     int       `json:"year"`
	Helped   int64     `json:"helped"`
	Payouts  int64     `json:"payouts"`
	PaidFen  model.Fen `json:"paid_fen"`
	PaidYuan string    `json:"paid_yuan"`
}

func (a *API) overview(c *fiber.Ctx) error {
	o, err := a.stats.Overview(c.UserContext())
	if err != nil {
		return err
	}
	resp := overviewResponse{AsOf: o.AsOf.In(model.Shanghai).Format("2006-01-02T15:04:05+08:00"), Unions: o.Unions, Members: o.Members,
		Covered: o.Covered, Helped: o.Helped, Payouts: o.Payouts, PaidFen: o.PaidFen, PaidYuan: o.PaidFen.Yuan(),
		PendingFen: o.PendingFen, PendingYuan: o.PendingFen.Yuan(), Years: make([]yearStatsJSON, 0, len(o.Years))}
	for _, y := range o.Years {
		resp.Years = append(resp.Years, yearStatsJSON{Year: y.Year, Helped: y.Helped, Payouts: y.Payouts, PaidFen: y.PaidFen, PaidYuan: y.PaidFen.Yuan()})
	}
	c.Set(fiber.HeaderCacheControl, "public, max-age=60")
	return c.JSON(resp)
}
