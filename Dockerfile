# syntax=docker/dockerfile:1
# Build: a static binary (pure-Go SQLite, no cgo) with the time-zone database embedded.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/huzhu ./cmd/huzhu \
 && mkdir -p /out/data

# Run: distroless static, non-root. tzdata is embedded in the binary (time/tzdata) and also
# present in the image for anything else that reads /usr/share/zoneinfo.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/huzhu /usr/local/bin/huzhu
COPY --from=build /usr/share/zoneinfo /usr/share/zoneinfo
COPY --from=build --chown=65532:65532 /out/data /data
ENV TZ=Asia/Shanghai \
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
