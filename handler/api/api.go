// Package api is the JSON API of the mini-program and of public pages, under /api/v1. Handlers
// parse, call one service method and shape the response; errors go to the app's one error
// handler.
package api

import (
	"github.com/gofiber/fiber/v2"

	"huzhu/model"
	"huzhu/service/stats"
)

// API holds the services the routes call.
type API struct {
	stats *stats.Service
}

// New returns the API over its services.
func New(st *stats.Service) *API { return &API{stats: st} }

// Mount adds the routes under r (the app's /api/v1 group).
func (a *API) Mount(r fiber.Router) {
	r.Get("/stats", a.overview)
}

// overviewResponse shows each amount in fen (exact) and in yuan (for people).
type overviewResponse struct {
	AsOf        string          `json:"as_of"`
	Unions      int64           `json:"unions"`
	Members     int64           `json:"members"`
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
		Helped: o.Helped, Payouts: o.Payouts, PaidFen: o.PaidFen, PaidYuan: o.PaidFen.Yuan(),
		PendingFen: o.PendingFen, PendingYuan: o.PendingFen.Yuan(), Years: make([]yearStatsJSON, 0, len(o.Years))}
	for _, y := range o.Years {
		resp.Years = append(resp.Years, yearStatsJSON{Year: y.Year, Helped: y.Helped, Payouts: y.Payouts, PaidFen: y.PaidFen, PaidYuan: y.PaidFen.Yuan()})
	}
	c.Set(fiber.HeaderCacheControl, "public, max-age=60")
	return c.JSON(resp)
}
