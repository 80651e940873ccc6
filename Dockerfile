# syntax=docker/dockerfile:1
# Build: `make image` (docker build -t kueue-ray-webhook:0.1.0 .).

FROM docker.io/library/rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin kueue-ray-webhook \
 && cp target/release/kueue-ray-webhook /kueue-ray-webhook

# glibc and libgcc only (ring needs no OpenSSL); runs as uid 65532.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /kueue-ray-webhook /usr/local/bin/kueue-ray-webhook
USER 65532:65532
EXPOSE 9443 8080
ENTRYPOINT ["/usr/local/bin/kueue-ray-webhook"]
CMD ["serve"]
