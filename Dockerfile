# syntax=docker/dockerfile:1
# Build: a static binary (pure-Go SQLite, no cgo) with the time-zone database embedded.
# Base images are pinned by digest (the tag stays for people): a rebuild gets the same bytes.
# Refresh both with `crane digest IMAGE:TAG` (or `docker buildx imagetools inspect`) when updating.
FROM golang:1.26-bookworm@sha256:b305420a68d0f229d91eb3b3ed9e519fcf2cf5461da4bef997bf927e8c0bfd2b AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/huzhu ./cmd/huzhu \
 && mkdir -p /out/data

# Run: distroless static, non-root. tzdata is embedded in the binary (time/tzdata) and also
# present in the image for anything else that reads /usr/share/zoneinfo.
FROM gcr.io/distroless/static-debian12:nonroot@sha256:afa5c872c891853ca7fcf1f12c3edb23f7eeef36189728842dd51042ff57f7ab
COPY --from=build /out/huzhu /usr/local/bin/huzhu
COPY --from=build /usr/share/zoneinfo /usr/share/zoneinfo
COPY --from=build --chown=65532:65532 /out/data /data
# The image runs in prod: it refuses to start without real keys and Redis (see README). Only
# `serve --demo` and `demo` switch to dev, with generated keys kept in /data/dev-keys.yaml.
ENV TZ=Asia/Shanghai \
    HUZHU_ENV=prod \
    HUZHU_HTTP_ADDR=0.0.0.0:8080 \
    HUZHU_DATABASE_SQLITE_PATH=/data/huzhu.db \
    HUZHU_SECURITY_DEV_KEY_FILE=/data/dev-keys.yaml
WORKDIR /data
VOLUME ["/data"]
USER nonroot:nonroot
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 CMD ["/usr/local/bin/huzhu", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/huzhu"]
CMD ["serve"]
