# nbwarden in a container: a static-enough release binary on a slim Debian base.
#   docker build -t nbwarden .
#   docker run -d --name nbwarden -v /srv/nbwarden:/etc/nbwarden:ro -v nbwarden-state:/var/lib/nbwarden \
#     -e NBWARDEN_PROD_PASSWORD=… -p 127.0.0.1:9187:9187 nbwarden
# In nbwarden.yaml: state.path /var/lib/nbwarden/nbwarden.db and http.listen 0.0.0.0:9187 (inside the
# container; publish the port on loopback only, as above); the image's HEALTHCHECK runs
# `nbwarden healthcheck` against it. `docker kill -s HUP nbwarden` reloads; give `docker stop` time
# for running actions to finish: `docker run --stop-timeout 30 …` (the default is 10 s).
# `--build-arg NBWARDEN_COMMIT=$(git rev-parse --short=12 HEAD)` names the commit in `--version`.

FROM rust:1-slim-bookworm AS build
WORKDIR /src
ARG NBWARDEN_COMMIT=unknown
ENV NBWARDEN_COMMIT=$NBWARDEN_COMMIT
COPY Cargo.toml Cargo.lock build.rs ./
COPY src src
COPY benches benches
COPY tests tests
COPY rules rules
RUN cargo build --release --locked --bin nbwarden \
    && target/release/nbwarden man > nbwarden.1 \
    && target/release/nbwarden completions bash > nbwarden.bash

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --user-group --home /var/lib/nbwarden --shell /usr/sbin/nologin nbwarden \
    && install -d -m 0700 -o nbwarden -g nbwarden /var/lib/nbwarden
COPY --from=build /src/target/release/nbwarden /usr/local/bin/nbwarden
COPY --from=build /src/nbwarden.1 /usr/share/man/man1/nbwarden.1
COPY --from=build /src/nbwarden.bash /usr/share/bash-completion/completions/nbwarden
COPY rules /usr/share/nbwarden/rules
COPY nbwarden.example.yaml /usr/share/nbwarden/
# By number, so that Kubernetes can check runAsNonRoot (packaging/kubernetes).
USER 10001:10001
WORKDIR /var/lib/nbwarden
ENV NBWARDEN_CONFIG=/etc/nbwarden/nbwarden.yaml
EXPOSE 9187
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s CMD ["/usr/local/bin/nbwarden", "healthcheck"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/nbwarden"]
CMD ["run"]
