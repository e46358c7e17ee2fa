# Keney Hub image: Node 20, the server compiled (dist/server, hub/build.mjs: a faster start), the UI bundle built in.
FROM node:20-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund

FROM node:20-bookworm-slim
ENV NODE_ENV=production KENEY_DATA_DIR=/data KENEY_HTTP_PORT=8080 KENEY_MLLP_PORT=2575 KENEY_DICOM_PORT=11112
WORKDIR /app
RUN useradd --system --home /app keney && mkdir -p /data && chown keney /data
COPY --from=deps /app/node_modules ./node_modules
COPY . .
RUN node hub/build.mjs
USER keney
VOLUME ["/data"]
EXPOSE 8080 2575 11112
HEALTHCHECK --interval=15s --timeout=3s CMD node -e "fetch('http://127.0.0.1:8080/readyz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
CMD ["node", "bin/keney.js", "serve"]
