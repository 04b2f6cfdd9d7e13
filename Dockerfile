# syntax=docker/dockerfile:1
# The fledge image: the binary built with the Rust toolchain, run from a distroless image that
# holds nothing else but the C runtime it links and the CA certificates (no shell, no package
# manager), as a non-root user.
#
#   docker build -t ghcr.io/fledge-dev/fledge:0.1.0 .
#
# The tag is the workspace's version, the one config/ deploys (docs/install.md).

# The toolchain CI tests with; the build image is Debian 12, as the runtime image is, so the
# binary finds the glibc it was linked against.
ARG RUST_VERSION=1.95

FROM docker.io/library/rust:${RUST_VERSION}-slim-bookworm AS build
WORKDIR /src
COPY . .
# The registry and the target folder are BuildKit caches, so a rebuild compiles only what
# changed; the binary is copied out of the cache in the same step.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p fledge-controller --bin fledge \
    && cp target/release/fledge /usr/local/bin/fledge

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /usr/local/bin/fledge /fledge
# distroless's "nonroot", by number so that runAsNonRoot can verify it.
USER 65532:65532
# /metrics, /healthz and /readyz (--listen).
EXPOSE 8080
ENTRYPOINT ["/fledge"]
CMD ["controller"]
