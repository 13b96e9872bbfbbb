package claim

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"gorm.io/gorm"

	"huzhu/model"
	"huzhu/service/blob"
	"huzhu/service/errs"
)

// Document MIME types accepted, decided by content (the first bytes), never by name or header.
const (
	MIMEJPEG = "image/jpeg"
	MIMEPNG  = "image/png"
	MIMEPDF  = "application/pdf"
)

// sniff returns the MIME type of a document from its first bytes, or "".
func sniff(head []byte) string {
	switch {
	case len(head) >= 3 && head[0] == 0xFF && head[1] == 0xD8 && head[2] == 0xFF:
		return MIMEJPEG
	case len(head) >= 8 && string(head[:8]) == "\x89PNG\r\n\x1a\n":
		return MIMEPNG
	case len(head) >= 5 && string(head[:5]) == "%PDF-":
		return MIMEPDF
	}
	return ""
}

var errTooBig = errors.New("document too big")

// Attach adds a document of kind to a draft or returned claim of the member, reading r once:
// its type is decided by content (JPEG, PNG or PDF), photo metadata (EXIF, XMP, text chunks) is
// removed, and it is sealed under a key of its own on its way to the store, so neither the store
// nor the temporary file ever hold it in clear, and it is never whole in memory. It returns
// Invalid claim.doc_type for anything else, Invalid claim.doc_too_big above Options.MaxDocBytes,
// Conflict claim.too_many_docs at Options.MaxDocs, Conflict claim.not_editable once the claim is
// with the union, and NotFound claim.not_found for a claim that is not the member's.
func (s *Service) Attach(ctx context.Context, memberID, claimID uint64, kind model.DocKind, r io.Reader) (model.ClaimDocument, error) {
	if !kind.Valid() {
		return model.ClaimDocument{}, errs.Invalid("kind", "请选择材料类别", "社保卡复印件 social_card、京卡复印件 jing_card、收据或费用清单 receipt、急诊证明 emergency、其他 other")
	}
	if _, err := s.editable(ctx, memberID, claimID); err != nil {
		return model.ClaimDocument{}, err
	}
	doc := model.ClaimDocument{ClaimID: claimID, Kind: kind, StorageKey: newStorageKey(claimID), UploadedAt: s.now()}
	key := newDataKey()
	spool, size, mime, err := s.sealToSpool(r, key, []byte(doc.StorageKey))
	if err != nil {
		return model.ClaimDocument{}, err
	}
	defer os.Remove(spool.Name())
	defer spool.Close()
	doc.MIME, doc.Size, doc.DataKey = mime, size, s.cipher.Encrypt(string(key))
	if _, err := spool.Seek(0, io.SeekStart); err != nil {
		return model.ClaimDocument{}, fmt.Errorf("attach to claim %d: %w", claimID, err)
	}
	if err := s.store.Put(ctx, doc.StorageKey, bufio.NewReader(spool), blob.SealedSize(size)); err != nil {
		return model.ClaimDocument{}, errs.Wrap(errs.KindUnavailable, "claim.store_unavailable", "材料暂时无法保存，请稍后再试", err)
	}
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		c, err := mineForUpdate(tx, memberID, claimID)
		if err != nil {
			return err
		}
		if !c.Status.Editable() {
			return notEditable(c.Status)
		}
		var n int64
		if err := tx.Model(&model.ClaimDocument{}).Where("claim_id = ? AND deleted_at IS NULL", claimID).Count(&n).Error; err != nil {
			return err
		}
		if n >= int64(s.o.MaxDocs) {
			return errs.New(errs.KindConflict, "claim.too_many_docs", fmt.Sprintf("一个申请最多%d份材料", s.o.MaxDocs)).
				WithFix("请删去重复或不清楚的材料后再上传")
		}
		return tx.Create(&doc).Error
	})
	if err != nil {
		if derr := s.store.Delete(context.WithoutCancel(ctx), doc.StorageKey); derr != nil {
			s.log.Warn("claim document left in the store", "claim_id", claimID, "err", derr)
		}
		return model.ClaimDocument{}, fmt.Errorf("attach to claim %d: %w", claimID, err)
	}
	return doc, nil
}

func (s *Service) editable(ctx context.Context, memberID, claimID uint64) (model.Claim, error) {
	var c model.Claim
	err := s.db.WithContext(ctx).Where("id = ? AND member_id = ?", claimID, memberID).Take(&c).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return c, errNotMine
	}
	if err != nil {
		return c, fmt.Errorf("claim %d: %w", claimID, err)
	}
	if !c.Status.Editable() {
		return c, notEditable(c.Status)
	}
	return c, nil
}

// sealToSpool reads the document from r (at most MaxDocBytes), checks its type, removes its
// metadata and seals it into a temporary file, returned open with the plaintext size.
func (s *Service) sealToSpool(r io.Reader, key, ad []byte) (*os.File, int64, string, error) {
	in := bufio.NewReaderSize(io.LimitReader(r, s.o.MaxDocBytes+1), 32<<10)
	head, _ := in.Peek(8)
	mime := sniff(head)
	if mime == "" {
		return nil, 0, "", errs.New(errs.KindInvalid, "claim.doc_type", "只能上传照片（JPG、PNG）或 PDF 文件").
			WithFix("请用手机拍照上传，或把扫描件存成 PDF")
	}
	f, err := os.CreateTemp(s.o.SpoolDir, "huzhu-doc-*")
	if err != nil {
		return nil, 0, "", fmt.Errorf("spool document: %w", err)
	}
	fail := func(err error) (*os.File, int64, string, error) {
		_ = f.Close()
		_ = os.Remove(f.Name())
		return nil, 0, "", err
	}
	bw := bufio.NewWriterSize(f, 64<<10)
	sealer, err := blob.NewSealer(bw, key, ad)
	if err != nil {
		return fail(err)
	}
	counted := &limitCounter{r: in, max: s.o.MaxDocBytes}
	switch mime {
	case MIMEJPEG:
		err = stripJPEG(sealer, counted)
	case MIMEPNG:
		err = stripPNG(sealer, counted)
	default:
		_, err = io.Copy(sealer, counted)
	}
	if err == nil && counted.over {
		err = errTooBig
	}
	if err == nil {
		err = sealer.Close()
	}
	if err == nil {
		err = bw.Flush()
	}
	switch {
	case errors.Is(err, errTooBig) || counted.over:
		return fail(errs.New(errs.KindInvalid, "claim.doc_too_big", fmt.Sprintf("文件太大了，每份材料不超过%dMB", s.o.MaxDocBytes>>20)).
			WithFix("请降低照片分辨率或分页上传"))
	case errors.Is(err, errBadImage):
		return fail(errs.New(errs.KindInvalid, "claim.doc_damaged", "文件已损坏或不完整，无法识别").WithFix("请重新拍照或导出后上传"))
	case err != nil:
		return fail(fmt.Errorf("spool document: %w", err))
	}
	return f, sealer.Size(), mime, nil
}

// limitCounter reads from r and notes when more than max bytes came (the caller limited r to
// max+1, so the extra byte is the sign).
type limitCounter struct {
	r    io.Reader
	n    int64
	max  int64
	over bool
}

func (l *limitCounter) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	l.n += int64(n)
	if l.n > l.max {
		l.over = true
		return n, errTooBig
	}
	return n, err
}

// ReadByte lets the image filters read byte by byte without a second buffer.
func (l *limitCounter) ReadByte() (byte, error) {
	var b [1]byte
	for {
		n, err := l.Read(b[:])
		if n == 1 {
			return b[0], nil
		}
		if err != nil {
			return 0, err
		}
	}
}

// RemoveDocument deletes a document of a draft or returned claim. It returns NotFound
// claim.doc_not_found for a document that is not on the member's claim and Conflict
// claim.not_editable once the claim is with the union.
func (s *Service) RemoveDocument(ctx context.Context, memberID, claimID, docID uint64) error {
	var doc model.ClaimDocument
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		c, err := mineForUpdate(tx, memberID, claimID)
		if err != nil {
			return err
		}
		if !c.Status.Editable() {
			return notEditable(c.Status)
		}
		if err := tx.Where("id = ? AND claim_id = ? AND deleted_at IS NULL", docID, claimID).Take(&doc).Error; errors.Is(err, gorm.ErrRecordNotFound) {
			return errs.NotFound("claim.doc_not_found", "没有找到这份材料")
		} else if err != nil {
			return err
		}
		return tx.Model(&model.ClaimDocument{}).Where("id = ?", docID).Updates(map[string]any{"deleted_at": s.now(), "data_key": nil}).Error
	})
	if err != nil {
		return fmt.Errorf("remove document %d: %w", docID, err)
	}
	if err := s.store.Delete(ctx, doc.StorageKey); err != nil {
		// The key is gone with the row: what stays in the store cannot be read.
		s.log.Warn("claim document left in the store", "claim_id", claimID, "err", err)
	}
	return nil
}

// DocumentReader streams one document in clear.
type DocumentReader struct {
	model.ClaimDocument
	body io.ReadCloser
	r    io.Reader
}

// Read reads the document; a damaged or foreign object reads as an error.
func (d *DocumentReader) Read(p []byte) (int, error) { return d.r.Read(p) }

// Close releases the stored object.
func (d *DocumentReader) Close() error { return d.body.Close() }

// openDoc opens the stored, sealed document.
func (s *Service) openDoc(ctx context.Context, doc model.ClaimDocument) (*DocumentReader, error) {
	if doc.DeletedAt != nil || len(doc.DataKey) == 0 {
		return nil, errs.NotFound("claim.doc_not_found", "这份材料已按规定删除")
	}
	key, err := s.cipher.Decrypt(doc.DataKey)
	if err != nil {
		return nil, fmt.Errorf("document %d: data key: %w", doc.ID, err)
	}
	body, err := s.store.Open(ctx, doc.StorageKey)
	if errors.Is(err, blob.ErrNotFound) {
		return nil, errs.NotFound("claim.doc_not_found", "没有找到这份材料")
	}
	if err != nil {
		return nil, errs.Wrap(errs.KindUnavailable, "claim.store_unavailable", "材料暂时无法读取，请稍后再试", err)
	}
	o, err := blob.NewOpener(body, []byte(key), []byte(doc.StorageKey))
	if err != nil {
		_ = body.Close()
		return nil, err
	}
	return &DocumentReader{ClaimDocument: doc, body: body, r: o}, nil
}

// MyDocument opens a document of the member's own claim. It returns NotFound claim.doc_not_found
// for a document that is not theirs or was deleted.
func (s *Service) MyDocument(ctx context.Context, memberID, claimID, docID uint64) (*DocumentReader, error) {
	if _, err := s.Mine(ctx, memberID, claimID); err != nil {
		return nil, err
	}
	var doc model.ClaimDocument
	if err := s.db.WithContext(ctx).Where("id = ? AND claim_id = ?", docID, claimID).Take(&doc).Error; errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, errs.NotFound("claim.doc_not_found", "没有找到这份材料")
	} else if err != nil {
		return nil, fmt.Errorf("document %d: %w", docID, err)
	}
	return s.openDoc(ctx, doc)
}

func newStorageKey(claimID uint64) string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return fmt.Sprintf("claims/%d/%s", claimID, strings.ToLower(hex.EncodeToString(b)))
}

func newDataKey() []byte { return blob.NewKey() }
