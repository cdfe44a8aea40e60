# nanobert serve in a container: build with the Rust toolchain, run the binary alone.
#
#   docker build -t nanobert .
#   docker run -p 8080:8080 -v /path/to/models:/models:ro \
#       -e MODEL_ID=/models/all-MiniLM-L6-v2 nanobert
#
# The runtime image holds the stripped executable and nothing else: distroless/cc is the C
# library, libgcc and CA certificates (for MODEL_ID as a Hub id), no shell, no package
# manager, running as an unprivileged user. The model comes from a volume (MODEL_ID a
# directory) or from the Hub into HF_HOME (MODEL_ID an id such as
# sentence-transformers/all-MiniLM-L6-v2). Every option is an environment variable: see
# `nanobert serve --help` and docs/deploying.md.

FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release -p nanobert-cli --bin nanobert \
 && strip -o /nanobert target/release/nanobert

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /nanobert /usr/local/bin/nanobert
ENV HOSTNAME=0.0.0.0 \
    PORT=8080 \
    HF_HOME=/data \
    NANOBERT_HOME=/data/nanobert \
    NANOBERT_SHUTDOWN_DELAY=5
EXPOSE 8080
USER nonroot
ENTRYPOINT ["/usr/local/bin/nanobert", "serve"]
