# The default (ring) image of ztunnel, for Istio's ztunnel Helm chart (deploy/helm-values.yaml).
#
#   docker build -t ztunnel:0.1.0 --build-arg ISTIO_VERSION=1.28.0 .
#
# The build stage runs scripts/build-image.sh, the same script CI runs outside Docker; the
# runtime stage is only the binary, the shared libraries it links (glibc) and a non-root user
# (the chart runs the container with its own securityContext). Dockerfile.fips is the FIPS one.

ARG RUST_IMAGE=rust:1.95-bookworm

FROM ${RUST_IMAGE} AS build
WORKDIR /src
COPY . .
RUN scripts/build-image.sh /out

FROM scratch AS runtime
ARG ISTIO_VERSION=unknown
COPY --from=build /out/rootfs/ /
# Reported as istio_build{tag} and in `ztunnel version`, as upstream's image does.
ENV ISTIO_META_ISTIO_VERSION=${ISTIO_VERSION}
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/ztunnel"]
CMD ["proxy", "ztunnel"]
