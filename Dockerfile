# kexpose: one image for the admission webhook (`kexpose serve`) and the
# Argo CD config management plugin sidecar (`kexpose argocd ...`).
#
#   docker build -t ghcr.io/kexpose/kexpose:0.1.0 .
#
# The runtime image holds the binary and nothing else: no shell, no package
# manager. It runs as a non-root user; the Argo CD sidecar overrides the UID
# with 999 as Argo CD requires, which works because the binary needs no
# writable file outside /tmp.

FROM docker.io/library/rust:1.95-bookworm AS build
WORKDIR /src
# Dependencies first, so source edits do not rebuild them.
COPY Cargo.toml Cargo.lock ./
RUN mkdir -p src benches && echo 'fn main() {}' > src/main.rs && touch src/lib.rs \
    && for b in check render serve identity; do echo 'fn main() {}' > benches/$b.rs; done \
    && cargo build --profile dist --locked && rm -rf src benches
COPY . .
# The dist profile: one codegen unit and fat LTO, as the benchmarks measure.
RUN touch src/main.rs src/lib.rs && cargo build --profile dist --locked \
    && install -D -m 0755 target/dist/kexpose /out/kexpose

# glibc (ring and mimalloc are compiled C), CA roots, a nonroot user.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/kexpose /usr/local/bin/kexpose
COPY examples/argocd/plugin.yaml /home/argocd/cmp-server/config/plugin.yaml
USER 65532:65532
EXPOSE 8443 8080
ENTRYPOINT ["/usr/local/bin/kexpose"]
CMD ["serve"]
