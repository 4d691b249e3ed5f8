# syntax=docker/dockerfile:1
# Build: the SDK restores (a layer cached until a project file changes), then publishes in Release.
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /source
COPY global.json Directory.Build.props Directory.Packages.props .editorconfig ./
COPY src/PaymentSlices.Api/PaymentSlices.Api.csproj src/PaymentSlices.Api/
RUN dotnet restore src/PaymentSlices.Api/PaymentSlices.Api.csproj
COPY src/ src/
RUN dotnet publish src/PaymentSlices.Api/PaymentSlices.Api.csproj -c Release -o /app --no-restore

# Run: the ASP.NET runtime only, as the image's non-root `app` user, the database on a volume.
FROM mcr.microsoft.com/dotnet/aspnet:10.0 AS runtime
WORKDIR /app
ENV ASPNETCORE_ENVIRONMENT=Production \
    ASPNETCORE_HTTP_PORTS=8080 \
    ConnectionStrings__PaymentSlices="Data Source=/data/paymentslices.db"
RUN mkdir -p /data && chown app:app /data
VOLUME /data
COPY --from=build /app .
USER app
EXPOSE 8080
ENTRYPOINT ["dotnet", "PaymentSlices.Api.dll"]
