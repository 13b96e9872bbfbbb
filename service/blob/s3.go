package blob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// S3Options name an S3-compatible bucket.
type S3Options struct {
	Endpoint  string // host:port, no scheme
	Bucket    string
	Prefix    string // put before every key, e.g. "huzhu/"; may be empty
	AccessKey string
	SecretKey string
	Region    string
	Insecure  bool // plain HTTP (a test server, or a bucket on the same host)
}

// S3 is a Store in an S3-compatible bucket (MinIO, Ceph, COS, OSS, AWS), through minio-go.
type S3 struct {
	c      *minio.Client
	bucket string
	prefix string
}

// partSize bounds the memory of one upload whose size minio-go cannot know; callers give sizes,
// so objects up to this size go in one request.
const partSize = 16 << 20

// NewS3 returns a Store in the bucket. It does not contact the server.
func NewS3(o S3Options) (*S3, error) {
	if o.Endpoint == "" || o.Bucket == "" {
		return nil, fmt.Errorf("document store: endpoint and bucket are required")
	}
	if strings.Contains(o.Endpoint, "://") {
		u, err := url.Parse(o.Endpoint)
		if err != nil {
			return nil, fmt.Errorf("document store endpoint: %w", err)
		}
		o.Endpoint, o.Insecure = u.Host, u.Scheme == "http"
	}
	c, err := minio.New(o.Endpoint, &minio.Options{Creds: credentials.NewStaticV4(o.AccessKey, o.SecretKey, ""), Secure: !o.Insecure,
		Region: o.Region})
	if err != nil {
		return nil, fmt.Errorf("document store: %w", err)
	}
	return &S3{c: c, bucket: o.Bucket, prefix: o.Prefix}, nil
}

// Ready reports whether the bucket exists and answers.
func (s *S3) Ready(ctx context.Context) error {
	ok, err := s.c.BucketExists(ctx, s.bucket)
	if err != nil {
		return fmt.Errorf("document store: %w", err)
	}
	if !ok {
		return fmt.Errorf("document store: bucket %q does not exist", s.bucket)
	}
	return nil
}

// Put implements Store.
func (s *S3) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	if err := CheckKey(key); err != nil {
		return err
	}
	_, err := s.c.PutObject(ctx, s.bucket, s.prefix+key, r, size, minio.PutObjectOptions{
		ContentType: "application/octet-stream", PartSize: partSize})
	if err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	return nil
}

// Open implements Store. The object is streamed: minio-go reads it as the caller reads.
func (s *S3) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	if err := CheckKey(key); err != nil {
		return nil, err
	}
	obj, err := s.c.GetObject(ctx, s.bucket, s.prefix+key, minio.GetObjectOptions{})
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", key, err)
	}
	// GetObject is lazy: ask for the object's metadata now, so a missing object is an error here.
	if _, err := obj.Stat(); err != nil {
		_ = obj.Close()
		if minio.ToErrorResponse(err).Code == minio.NoSuchKey {
			return nil, ErrNotFound
		}
		return nil, fmt.Errorf("open %s: %w", key, err)
	}
	return obj, nil
}

// Delete implements Store.
func (s *S3) Delete(ctx context.Context, key string) error {
	if err := CheckKey(key); err != nil {
		return err
	}
	err := s.c.RemoveObject(ctx, s.bucket, s.prefix+key, minio.RemoveObjectOptions{})
	if err != nil && !errors.Is(err, ErrNotFound) && minio.ToErrorResponse(err).Code != minio.NoSuchKey {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	return nil
}
