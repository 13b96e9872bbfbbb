package job

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"gorm.io/gorm"

	"huzhu/model"
	"huzhu/service/audit"
	"huzhu/service/errs"
)

// listColumns are what a list of jobs shows: not the result nor the file's key.
var listColumns = []string{"id", "kind", "status", "stage", "done", "total", "subject", "created_by", "owner", "error_code", "error",
	"hint", "heartbeat_at", "created_at", "started_at", "finished_at", "file_name", "file_size", "file_expires"}

func errNotFound() error {
	return errs.NotFound("job.not_found", "没有这个任务").WithFix("任务只有提交人和市总管理员可以查看；请在“后台任务”列表中找")
}

// SeesAll reports whether viewer sees every staff member's jobs (市总管理员, and the process
// itself) rather than only their own.
func SeesAll(viewer model.Actor) bool {
	return viewer.Role == model.RoleAdmin || viewer.Via == model.ViaSystem || viewer.Via == model.ViaBreakGlass
}

// Get returns job id for viewer: their own job, or any job when SeesAll(viewer). Someone else's
// job is NotFound, like a job that does not exist; so is every job for a viewer who may not
// ViewPlan. A live job whose process stopped heartbeating is marked interrupted first, so a
// reader never waits on a job that cannot end. The result is included; the kept file's key is
// not.
func (s *Service) Get(ctx context.Context, id uint64, viewer model.Actor) (model.Job, error) {
	if !viewer.Can(model.ActViewPlan) {
		return model.Job{}, errNotFound()
	}
	j, err := s.load(ctx, id)
	if err != nil {
		return model.Job{}, err
	}
	if !SeesAll(viewer) && j.CreatedBy != viewer.Username {
		return model.Job{}, errNotFound()
	}
	if j.Status.Live() && j.Owner != s.owner && j.HeartbeatAt.Before(s.now().Add(-s.o.StaleAfter)) {
		if _, err := s.interruptStale(ctx); err != nil {
			return model.Job{}, err
		}
		return s.load(ctx, id)
	}
	return j, nil
}

func (s *Service) load(ctx context.Context, id uint64) (model.Job, error) {
	var j model.Job
	err := s.db.WithContext(ctx).Omit("file_key").Take(&j, id).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return model.Job{}, errNotFound()
	}
	if err != nil {
		return model.Job{}, fmt.Errorf("load job %d: %w", id, err)
	}
	return j, nil
}

// List returns a page (1-based, size rows) of viewer's jobs, or of everyone's when
// SeesAll(viewer), newest first, without results, and the number of jobs in all pages. It returns
// Forbidden unless viewer may ViewPlan.
func (s *Service) List(ctx context.Context, viewer model.Actor, page, size int) ([]model.Job, int64, error) {
	if err := audit.Need(viewer, model.ActViewPlan); err != nil {
		return nil, 0, err
	}
	if _, err := s.interruptStale(ctx); err != nil {
		return nil, 0, err
	}
	if err := s.sweepFiles(ctx); err != nil {
		return nil, 0, err
	}
	size = min(max(size, 1), 100)
	page = max(page, 1)
	q := s.db.WithContext(ctx).Model(&model.Job{})
	if !SeesAll(viewer) {
		q = q.Where("created_by = ?", viewer.Username)
	}
	var total int64
	if err := q.Count(&total).Error; err != nil {
		return nil, 0, fmt.Errorf("count jobs: %w", err)
	}
	var out []model.Job
	if err := q.Select(listColumns).Order("created_at DESC, id DESC").Limit(size).Offset((page - 1) * size).Find(&out).Error; err != nil {
		return nil, 0, fmt.Errorf("list jobs: %w", err)
	}
	return out, total, nil
}

// Recover runs at start-up: it marks interrupted the live jobs of processes that stopped
// heartbeating, deletes expired kept files and removes spool files left by crashed processes.
// It returns how many jobs it marked.
func (s *Service) Recover(ctx context.Context) (int64, error) {
	n, err := s.interruptStale(ctx)
	if err != nil {
		return 0, err
	}
	if err := s.sweepFiles(ctx); err != nil {
		return n, err
	}
	if k := removeOldSpools(s.o.SpoolDir, 24*time.Hour, time.Now()); k > 0 {
		s.log.Info("removed spooled uploads of stopped processes", "files", k)
	}
	if n > 0 {
		s.log.Warn("jobs of stopped processes marked interrupted", "jobs", n)
	}
	return n, nil
}

// interruptStale marks interrupted every live job of another process whose heartbeat is older
// than Options.StaleAfter. The condition is in the UPDATE, so a heartbeat that arrives first wins.
func (s *Service) interruptStale(ctx context.Context) (int64, error) {
	now := s.now()
	var stale []model.Job
	if err := s.db.WithContext(ctx).Select("id", "kind").Where("status IN ? AND heartbeat_at < ? AND owner <> ?", live(),
		now.Add(-s.o.StaleAfter), s.owner).Find(&stale).Error; err != nil {
		return 0, fmt.Errorf("find stale jobs: %w", err)
	}
	var n int64
	for _, j := range stale {
		res := s.db.WithContext(ctx).Model(&model.Job{}).Where("id = ? AND status IN ? AND heartbeat_at < ?", j.ID, live(), now.Add(-s.o.StaleAfter)).
			Updates(map[string]any{"status": model.JobInterrupted, "stage": "中断", "finished_at": now, "error_code": "job.interrupted",
				"error": "处理这个任务的服务进程已停止，任务中断", "hint": rerunHint(j.Kind)})
		if res.Error != nil {
			return n, fmt.Errorf("interrupt job %d: %w", j.ID, res.Error)
		}
		n += res.RowsAffected
	}
	return n, nil
}

// Keep stores data as the job's file for its creator, sealed, until Options.KeepFiles from now;
// a second call replaces the first file.
func (t *Task) Keep(ctx context.Context, name string, data []byte) error {
	s := t.s
	key := newKey()
	chunks, err := sealChunks(key, chunkAD(t.id), data)
	if err != nil {
		return fmt.Errorf("keep file of job %d: %w", t.id, err)
	}
	expires := s.now().Add(s.o.KeepFiles)
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Where("job_id = ?", t.id).Delete(&model.JobChunk{}).Error; err != nil {
			return err
		}
		for i, c := range chunks {
			if err := tx.Create(&model.JobChunk{JobID: t.id, Seq: i, Data: c}).Error; err != nil {
				return err
			}
		}
		return tx.Model(&model.Job{}).Where("id = ?", t.id).Updates(map[string]any{"file_name": model.Fit(name, 255),
			"file_key": s.cipher.Encrypt(string(key)), "file_size": len(data), "file_expires": expires}).Error
	})
	if err != nil {
		return fmt.Errorf("keep file of job %d: %w", t.id, err)
	}
	s.schedule(expires)
	return nil
}

// schedule sweeps kept files once at, so that a file is deleted on time even when nobody reads
// the jobs; after a restart Recover does it.
func (s *Service) schedule(at time.Time) {
	time.AfterFunc(at.Sub(s.now())+time.Second, func() {
		if s.base.Err() != nil {
			return
		}
		ctx, cancel := context.WithTimeout(s.base, time.Minute)
		defer cancel()
		if err := s.sweepFiles(ctx); err != nil {
			s.log.Warn("expired job files not deleted", "err", err)
		}
	})
}

func chunkAD(jobID uint64) []byte { return []byte("job:" + strconv.FormatUint(jobID, 10)) }

// File returns the name and content of the file job id kept, to its creator only while they may
// still DownloadFiles, and writes an audit row of the download. It returns Forbidden when viewer
// may not DownloadFiles, and NotFound for someone else's job, a job without a file and a file
// deleted after Options.KeepFiles (the message says so).
func (s *Service) File(ctx context.Context, id uint64, viewer model.Actor) (string, []byte, error) {
	if err := audit.Need(viewer, model.ActDownloadFiles); err != nil {
		return "", nil, err
	}
	var j model.Job
	err := s.db.WithContext(ctx).Select("id", "kind", "created_by", "file_name", "file_key", "file_expires").Take(&j, id).Error
	if errors.Is(err, gorm.ErrRecordNotFound) || (err == nil && j.CreatedBy != viewer.Username) {
		return "", nil, errNotFound()
	}
	if err != nil {
		return "", nil, fmt.Errorf("load job %d: %w", id, err)
	}
	if len(j.FileKey) == 0 || j.FileExpires == nil || !s.now().Before(*j.FileExpires) {
		return "", nil, errs.NotFound("job.file_gone", "文件已过保存期限并已删除").
			WithFix(fmt.Sprintf("含完整账号的文件只保存 %d 分钟，只能由导出人下载", int(s.o.KeepFiles.Minutes())))
	}
	key, err := s.cipher.Decrypt(j.FileKey)
	if err != nil {
		return "", nil, fmt.Errorf("job %d file key: %w", id, err)
	}
	var rows []model.JobChunk
	if err := s.db.WithContext(ctx).Where("job_id = ?", id).Order("seq").Find(&rows).Error; err != nil {
		return "", nil, fmt.Errorf("load job %d file: %w", id, err)
	}
	chunks := make([][]byte, len(rows))
	for i, r := range rows {
		if r.Seq != i {
			return "", nil, fmt.Errorf("job %d file: %w", id, ErrCorrupt)
		}
		chunks[i] = r.Data
	}
	data, err := openChunks([]byte(key), chunkAD(id), chunks)
	if err != nil {
		return "", nil, fmt.Errorf("job %d file: %w", id, err)
	}
	e := audit.By(viewer)
	e.Action, e.Target, e.Detail = "job.download", fmt.Sprintf("job:%d", id), map[string]any{"kind": j.Kind, "file": j.FileName, "bytes": len(data)}
	err = audit.Write(ctx, s.db, s.now(), e)
	if err != nil {
		return "", nil, err
	}
	return j.FileName, data, nil
}

// sweepFiles deletes the kept files whose time is up.
func (s *Service) sweepFiles(ctx context.Context) error {
	var ids []uint64
	if err := s.db.WithContext(ctx).Model(&model.Job{}).Where("file_expires <= ? AND file_key IS NOT NULL", s.now()).Pluck("id", &ids).Error; err != nil {
		return fmt.Errorf("find expired job files: %w", err)
	}
	for _, id := range ids {
		err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
			if err := tx.Where("job_id = ?", id).Delete(&model.JobChunk{}).Error; err != nil {
				return err
			}
			return tx.Model(&model.Job{}).Where("id = ?", id).Updates(map[string]any{"file_key": nil, "file_size": 0}).Error
		})
		if err != nil {
			return fmt.Errorf("delete file of job %d: %w", id, err)
		}
	}
	return nil
}
