# syntax=docker/dockerfile:1
# The Scalar API reference bundle: the pinned npm package, integrity-checked by the same script the build runs.
# Pinned tags: Node 24 LTS for npm; the .NET SDK of global.json; the ASP.NET runtime it ships with (`.ci/run` checks the SDK's).
FROM node:24.11.1-bookworm-slim AS scalar
WORKDIR /scalar
COPY build/fetch-scalar.sh ./
RUN bash fetch-scalar.sh 1.72.1 sha512-XpEJ0rfc/cXbCrR+iC4kK0o/WwX2dTtGQbT049OlPKAHD6IMIFdTeGz2r+M27P2EDWKyUITRm/NzlP8z2pw/Ow== /scalar/standalone.js \
    && test -s /scalar/standalone.js

# Build: the SDK restores (a layer cached until a project file changes), then publishes in Release.
FROM mcr.microsoft.com/dotnet/sdk:10.0.401-noble AS build
WORKDIR /source
COPY global.json Directory.Build.props Directory.Packages.props ./
COPY src/PaymentSlices.Api/PaymentSlices.Api.csproj src/PaymentSlices.Api/
RUN dotnet restore src/PaymentSlices.Api/PaymentSlices.Api.csproj
COPY .editorconfig ./
COPY src/ src/
COPY build/ build/
# The bundle where the project's build looks for it, so the publish ships it without fetching again.
COPY --from=scalar /scalar/standalone.js artifacts/scalar/1.72.1/standalone.js
RUN dotnet publish src/PaymentSlices.Api/PaymentSlices.Api.csproj -c Release -o /app --no-restore \
    && test -s /app/scalar/standalone.js

# Run: the ASP.NET runtime only, as the image's non-root `app` user (by its numeric id, so that Kubernetes'
# runAsNonRoot can verify it), the database on a volume.
FROM mcr.microsoft.com/dotnet/aspnet:10.0.12-noble AS runtime
WORKDIR /app
ENV ASPNETCORE_ENVIRONMENT=Production \
    ASPNETCORE_HTTP_PORTS=8080 \
    ConnectionStrings__PaymentSlices="Data Source=/data/paymentslices.db"
RUN mkdir -p /data && chown app:app /data
VOLUME /data
COPY --from=build /app .
USER $APP_UID
EXPOSE 8080
ENTRYPOINT ["dotnet", "PaymentSlices.Api.dll"]
