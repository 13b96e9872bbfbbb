package blob_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"huzhu/service/blob"
)

// stores returns every Store implementation, each fresh: the directory, and S3 through minio-go
// against a real S3-protocol server (gofakes3) listening on loopback.
func stores(t *testing.T) map[string]blob.Store {
	t.Helper()
	dir, err := blob.NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return map[string]blob.Store{"dir": dir, "s3": NewTestS3(t)}
}

// NewTestS3 starts an in-process S3 server with one bucket and returns a store on it.
func NewTestS3(t *testing.T) *blob.S3 {
	t.Helper()
	backend := s3mem.New()
	faker := gofakes3.New(backend)
	srv := httptest.NewServer(faker.Server())
	t.Cleanup(srv.Close)
	if err := backend.CreateBucket("docs"); err != nil {
		t.Fatal(err)
	}
	s, err := blob.NewS3(blob.S3Options{Endpoint: srv.URL, Bucket: "docs", Prefix: "huzhu/", AccessKey: "k", SecretKey: "s", Region: "us-east-1"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Ready(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

func sealed(t *testing.T, key, ad, plain []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	s, err := blob.NewSealer(&buf, key, ad)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Write(plain); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if int64(buf.Len()) != blob.SealedSize(int64(len(plain))) {
		t.Fatalf("sealed %d bytes into %d, SealedSize says %d", len(plain), buf.Len(), blob.SealedSize(int64(len(plain))))
	}
	return buf.Bytes()
}

func TestStoresKeepOnlyCiphertext(t *testing.T) {
	ctx := context.Background()
	// Three chunks and a bit, with a marker a reader of the raw object would see.
	plain := bytes.Repeat([]byte("社会保障卡 110101199003071234 "), 3*blob.ChunkSize/30+7)
	key, ad := blob.NewKey(), []byte("claims/1/abc")
	data := sealed(t, key, ad, plain)
	for name, st := range stores(t) {
		t.Run(name, func(t *testing.T) {
			if err := st.Put(ctx, "claims/1/abc", bytes.NewReader(data), int64(len(data))); err != nil {
				t.Fatalf("Put: %v", err)
			}
			rc, err := st.Open(ctx, "claims/1/abc")
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			raw, _ := io.ReadAll(rc)
			rc.Close()
			if bytes.Contains(raw, []byte("110101199003071234")) || bytes.Contains(raw, []byte("社会保障卡")) {
				t.Fatal("the stored object holds the plaintext")
			}
			for _, tc := range []struct {
				name string
				key  []byte
				ad   []byte
				raw  []byte
				want error
			}{
				{"right key", key, ad, raw, nil},
				{"another key", blob.NewKey(), ad, raw, blob.ErrCorrupt},
				{"moved to another name", key, []byte("claims/2/abc"), raw, blob.ErrCorrupt},
				{"cut at a chunk boundary", key, ad, raw[:blob.ChunkSize+16], blob.ErrCorrupt},
				{"last chunk dropped", key, ad, raw[:3*(blob.ChunkSize+16)], blob.ErrCorrupt},
				{"one bit flipped", key, ad, flip(raw, 100), blob.ErrCorrupt},
			} {
				o, err := blob.NewOpener(bytes.NewReader(tc.raw), tc.key, tc.ad)
				if err != nil {
					t.Fatal(err)
				}
				got, err := io.ReadAll(o)
				if !errors.Is(err, tc.want) {
					t.Errorf("%s: read error %v, want %v", tc.name, err, tc.want)
				}
				if tc.want == nil && !bytes.Equal(got, plain) {
					t.Errorf("%s: read %d bytes, want the %d written", tc.name, len(got), len(plain))
				}
			}
			if err := st.Delete(ctx, "claims/1/abc"); err != nil {
				t.Fatalf("Delete: %v", err)
			}
			if _, err := st.Open(ctx, "claims/1/abc"); !errors.Is(err, blob.ErrNotFound) {
				t.Errorf("Open after Delete: %v, want ErrNotFound", err)
			}
			if err := st.Delete(ctx, "claims/1/abc"); err != nil {
				t.Errorf("second Delete: %v, want nil", err)
			}
		})
	}
}

func flip(b []byte, i int) []byte {
	c := bytes.Clone(b)
	c[i] ^= 1
	return c
}

func TestKeysCannotEscape(t *testing.T) {
	for name, st := range stores(t) {
		for _, k := range []string{"../x", "a/../../x", "/etc/passwd", "A", "a//b", "a/", "", strings.Repeat("a", 201)} {
			if err := st.Put(context.Background(), k, strings.NewReader("x"), 1); !errors.Is(err, blob.ErrBadKey) {
				t.Errorf("%s: Put(%q) = %v, want ErrBadKey", name, k, err)
			}
		}
	}
}

func TestDirLeavesNoPartialObject(t *testing.T) {
	root := t.TempDir()
	d, err := blob.NewDir(root)
	if err != nil {
		t.Fatal(err)
	}
	// The reader gives fewer bytes than promised: nothing may stay under the key or beside it.
	if err := d.Put(context.Background(), "claims/9/x", strings.NewReader("short"), 10); err == nil {
		t.Fatal("Put of a short reader succeeded")
	}
	var files []string
	_ = filepath.Walk(root, func(p string, fi os.FileInfo, _ error) error {
		if fi != nil && !fi.IsDir() {
			files = append(files, p)
		}
		return nil
	})
	if len(files) != 0 {
		t.Errorf("files left after a failed Put: %v", files)
	}
}
