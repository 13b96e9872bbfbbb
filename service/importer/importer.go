package importer

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-sql-driver/mysql"
	"gorm.io/gorm"

	"huzhu/model"
	"huzhu/service/audit"
	"huzhu/service/errs"
	"huzhu/service/pii"
	"huzhu/service/progress"
	"huzhu/service/sheet"
)

// Options tune a Service. Zero values take the defaults in brackets.
type Options struct {
	BatchSize   int // rows per transaction [1000]
	Workers     int // 医保 batches applied at once, each on its own connection [4]; the roster uses one
	MaxProblems int // problems kept in the report; the rest are only counted [10000]
	// Limits bound what one file may hold [sheet.DefaultLimits()]; tests lower them.
	Limits sheet.Limits
}

// Service imports roster and 医保 files.
type Service struct {
	db     *gorm.DB
	cipher *pii.Cipher
	now    func() time.Time
	log    *slog.Logger
	o      Options
}

// New returns an importer.
func New(db *gorm.DB, cipher *pii.Cipher, o Options, now func() time.Time, log *slog.Logger) *Service {
	if o.BatchSize <= 0 {
		o.BatchSize = 1000
	}
	if o.Workers <= 0 {
		o.Workers = 4
	}
	if o.MaxProblems <= 0 {
		o.MaxProblems = 10000
	}
	if o.Limits == (sheet.Limits{}) {
		o.Limits = sheet.DefaultLimits()
	}
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{db: db, cipher: cipher, now: now, log: log, o: o}
}

// Problem is one bad row: its row number as Excel shows it (the header is row 1), the column at
// fault and what is wrong, in plain Chinese, with how to fix it.
type Problem struct {
	Row     int
	Column  string
	Message string
}

// Report says what an import did. Rows = Added + Updated + Same + Bad.
type Report struct {
	BatchID  uint64
	Kind     model.ImportKind
	Rows     int
	Added    int
	Updated  int
	Same     int
	Bad      int
	Problems []Problem // the first Options.MaxProblems
}

// CSV returns the problems as a CSV file for staff to download, written by sheet.Writer so
// that it is safe to open in Excel or WPS: column names and messages quote what the file held,
// and a cell that would start a formula is neutralised.
func (r Report) CSV() []byte {
	var b bytes.Buffer
	w := sheet.NewWriter(&b)
	_ = w.Write(sheet.Texts("行号", "列", "问题")...)
	for _, p := range r.Problems {
		_ = w.Write(sheet.Int(int64(p.Row)), sheet.Text(p.Column), sheet.Text(p.Message))
	}
	return b.Bytes()
}

// outcome of one row in a batch.
type outcome int

const (
	added outcome = iota + 1
	updated
	same
)

// batcher is what a kind of import does with one batch of parsed rows inside a transaction: it
// returns the outcome of each row, or a problem for rows that are bad only in the light of the
// database (unknown member, settled record).
type batcher[T any] interface {
	apply(ctx context.Context, tx *gorm.DB, rows []parsed[T]) ([]outcome, []*Problem, error)
}

// retrier is a batcher that remembers things across batches and must forget what a failed
// attempt at rows remembered before the batch is applied again.
type retrier[T any] interface {
	retry(rows []parsed[T])
}

// applyAttempts bounds how often a batch is applied when it lost a race with a concurrent import
// of the same rows (see conflict): the next attempt finds them and counts them as same.
const applyAttempts = 5

// conflict reports whether err means a concurrent transaction touched the same rows: it committed
// them first (a duplicate key), or MySQL chose this transaction as a deadlock victim (1213), or
// TiDB found a write conflict (9007). Applying the batch again is then safe.
func conflict(err error) bool {
	if errors.Is(err, gorm.ErrDuplicatedKey) {
		return true
	}
	var me *mysql.MySQLError
	return errors.As(err, &me) && (me.Number == 1213 || me.Number == 9007)
}

type parsed[T any] struct {
	row int
	v   T
}

// column is one column of an import kind: the key the code uses, the header of the template,
// other headers staff write, whether it is required, and an example for the template.
type column struct {
	key      string
	label    string
	aliases  []string
	required bool
	example  string
	note     string
}

func aliasesOf(spec []column) map[string]string {
	m := map[string][]string{}
	for _, c := range spec {
		m[c.key] = append([]string{c.label}, c.aliases...)
	}
	return sheet.Aliases(m)
}

// label returns the template header of key.
func label(spec []column, key string) string {
	for _, c := range spec {
		if c.key == key {
			return c.label
		}
	}
	return key
}

// checkText holds every cell the import reads to model.CheckText: invalid bytes (GBK or UTF-8),
// replacement characters and control characters make the row a problem, never data.
func checkText(spec []column, cells []string, cols map[string]int) *Problem {
	for _, c := range spec {
		i, ok := cols[c.key]
		if !ok || i >= len(cells) {
			continue
		}
		if err := model.CheckText(cells[i]); err != nil {
			return &Problem{Column: c.label, Message: textFix(err)}
		}
	}
	return nil
}

// textFix turns a model.CheckText error into a row problem that says what to do.
func textFix(err error) string {
	if errors.Is(err, model.ErrTextEncoding) {
		return err.Error() + "：请在 Excel 或 WPS 中核对这个单元格，另存为“CSV UTF-8”或 XLSX 后重新导入"
	}
	return err.Error() + "：请删去单元格里的换行、制表符等看不见的字符后重新导入"
}

// run is the shared loop of every import kind: read and parse in order, then apply batches on
// up to workers connections at once (batches must then be independent: duplicates within the
// file are caught while parsing), and report.
//
// Progress goes to progress.Report(ctx) once per batch: bytes read of the file's size when r
// tells its size (Size() int64) and the rows stream from it (CSV), else rows read with the total
// unknown (XLSX, which is read whole before its first row).
func run[T any](ctx context.Context, s *Service, kind model.ImportKind, name string, r io.Reader, actor model.Actor,
	spec []column, parse func(row int, cells []string, cols map[string]int) (T, *Problem), b batcher[T], workers int) (Report, error) {
	rep := Report{Kind: kind}
	if err := audit.Need(actor, model.ActImport); err != nil {
		return rep, err
	}
	h := sha256.New()
	cr := progress.NewReader(r)
	rd, err := sheet.OpenLimits(io.TeeReader(cr, h), s.o.Limits)
	if e, ok := errs.As(err); ok {
		return rep, e // a broken limit: says which
	}
	if err != nil {
		return rep, errs.Invalid("file", "文件是空的或无法读取", "请上传 CSV 或 XLSX 文件，第一行是列名（可以先下载模板）")
	}
	defer rd.Close()
	cols := sheet.Columns(rd.Header(), aliasesOf(spec))
	var missing []string
	for _, c := range spec {
		if _, ok := cols[c.key]; c.required && !ok {
			missing = append(missing, c.label)
		}
	}
	if len(missing) > 0 {
		return rep, errs.Invalidf("file", "请按模板的列名填写第一行", "文件缺少必填列：%s", strings.Join(missing, "、"))
	}
	batch := model.ImportBatch{Kind: kind, FileName: model.Fit(name, 255), FileSHA256: "-", Status: model.ImportRunning, CreatedBy: actor.Username}
	if err := s.db.WithContext(ctx).Create(&batch).Error; err != nil {
		return rep, fmt.Errorf("import %s: %w", name, err)
	}
	rep.BatchID = batch.ID
	byBytes := cr.ByBytes()
	report := func(rows int) {
		if byBytes {
			cr.Report(ctx)
		} else {
			progress.Report(ctx, int64(rows), 0)
		}
	}
	var mu sync.Mutex // guards rep while batches apply
	problem := func(p Problem) {
		rep.Bad++
		if len(rep.Problems) < s.o.MaxProblems {
			rep.Problems = append(rep.Problems, p)
		}
	}
	apply := func(pending []parsed[T]) error {
		var (
			outs  []outcome
			probs []*Problem
		)
		var err error
		for attempt := 1; ; attempt++ {
			err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
				var err error
				outs, probs, err = b.apply(ctx, tx, pending)
				return err
			})
			if !conflict(err) || attempt == applyAttempts {
				break
			}
			if rb, ok := b.(retrier[T]); ok {
				rb.retry(pending)
			}
		}
		if err != nil {
			return fmt.Errorf("rows %d–%d: %w", pending[0].row, pending[len(pending)-1].row, err)
		}
		mu.Lock()
		defer mu.Unlock()
		for i, p := range pending {
			if probs[i] != nil {
				probs[i].Row = p.row
				problem(*probs[i])
				continue
			}
			switch outs[i] {
			case added:
				rep.Added++
			case updated:
				rep.Updated++
			case same:
				rep.Same++
			}
		}
		return nil
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	batches := make(chan []parsed[T])
	var wg sync.WaitGroup
	for range max(workers, 1) {
		wg.Go(func() {
			for pending := range batches {
				if ctx.Err() == nil {
					if err := apply(pending); err != nil {
						cancel(err)
					}
				}
			}
		})
	}
	send := func(pending []parsed[T]) {
		select {
		case batches <- pending:
		case <-ctx.Done():
		}
	}
	pending := make([]parsed[T], 0, s.o.BatchSize)
	for ctx.Err() == nil {
		row, cells, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if e, ok := errs.As(err); ok {
			cancel(e) // a broken limit of the whole file: stop reading it
			break
		}
		mu.Lock()
		rep.Rows++
		if err != nil {
			problem(Problem{Row: row, Message: err.Error()})
			mu.Unlock()
			continue
		}
		p := checkText(spec, cells, cols)
		var v T
		if p == nil {
			v, p = parse(row, cells, cols)
		}
		if p != nil {
			p.Row = row
			problem(*p)
		}
		mu.Unlock()
		if p != nil {
			continue
		}
		pending = append(pending, parsed[T]{row, v})
		if len(pending) == s.o.BatchSize {
			send(pending)
			pending = make([]parsed[T], 0, s.o.BatchSize)
			report(row - 1)
		}
	}
	if len(pending) > 0 {
		send(pending)
	}
	close(batches)
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return rep, s.fail(ctx, batch.ID, name, err)
	}
	if byBytes {
		progress.Report(ctx, cr.Size(), cr.Size())
	} else {
		progress.Report(ctx, int64(rep.Rows), int64(rep.Rows))
	}
	slices.SortStableFunc(rep.Problems, func(a, b Problem) int { return a.Row - b.Row })
	finished := s.now()
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		report := ""
		if rep.Bad > 0 {
			report = string(rep.CSV())
		}
		if err := tx.Model(&batch).Updates(map[string]any{"file_sha256": hex.EncodeToString(h.Sum(nil)), "status": model.ImportDone,
			"rows_total": rep.Rows, "rows_ok": rep.Added + rep.Updated, "rows_same": rep.Same, "rows_bad": rep.Bad,
			"report": report, "finished_at": finished}).Error; err != nil {
			return err
		}
		e := audit.By(actor)
		e.Action, e.Target = "import."+string(kind), fmt.Sprintf("import:%d", batch.ID)
		e.Detail = map[string]any{"file": name, "rows": rep.Rows, "added": rep.Added, "updated": rep.Updated, "same": rep.Same, "bad": rep.Bad}
		return audit.Write(ctx, tx, finished, e)
	})
	if err != nil {
		return rep, fmt.Errorf("import %s: %w", name, err)
	}
	s.log.Info("import done", "kind", kind, "batch_id", batch.ID, "rows", rep.Rows, "added", rep.Added, "updated", rep.Updated,
		"same", rep.Same, "bad", rep.Bad)
	return rep, nil
}

// fail marks the batch failed (what landed before stays: batches are whole) and returns err.
func (s *Service) fail(ctx context.Context, batchID uint64, name string, err error) error {
	_ = s.db.WithContext(context.WithoutCancel(ctx)).Model(&model.ImportBatch{}).Where("id = ?", batchID).
		Updates(map[string]any{"status": model.ImportFailed, "finished_at": s.now()}).Error
	return fmt.Errorf("import %s: %w", name, err)
}

// ProblemsCSV returns the problem rows that import batch id recorded (a roster, 医保 or bank
// result import), as a CSV file for Excel (UTF-8 with BOM). The stored report is written again
// through sheet.Writer, so a report stored before cells were neutralised is served safe too.
// It returns NotFound when the batch does not exist or had no problems.
func (s *Service) ProblemsCSV(ctx context.Context, id uint64) ([]byte, error) {
	var b model.ImportBatch
	err := s.db.WithContext(ctx).Select("id", "report").Take(&b, id).Error
	if errors.Is(err, gorm.ErrRecordNotFound) || (err == nil && b.Report == "") {
		return nil, errs.NotFound("import.no_problems", "这次导入没有问题行")
	}
	if err != nil {
		return nil, fmt.Errorf("import batch %d: %w", id, err)
	}
	out, err := rewriteReport(b.Report)
	if err != nil {
		return nil, fmt.Errorf("import batch %d: report: %w", id, err)
	}
	return out, nil
}

// rewriteReport reads a stored problem report (行号, then text columns) and writes it again
// through sheet.Writer.
func rewriteReport(report string) ([]byte, error) {
	r := csv.NewReader(strings.NewReader(strings.TrimPrefix(report, "\ufeff")))
	r.FieldsPerRecord = -1
	var b bytes.Buffer
	w := sheet.NewWriter(&b)
	row := make([]sheet.Value, 0, 3)
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			return b.Bytes(), w.Error()
		}
		if err != nil {
			return nil, err
		}
		row = row[:0]
		for i, c := range rec {
			if i == 0 {
				row = append(row, sheet.Number(c)) // the row number; the header 行号 falls back to text
			} else {
				row = append(row, sheet.Text(c))
			}
		}
		_ = w.Write(row...)
	}
}
