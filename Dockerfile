# Two images from one build: `--target silo` (also runs the ops commands: migrate, doctor, rotate-credentials-key)
# and `--target webfront`. compose.yaml builds both.
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src
COPY . .
RUN dotnet publish src/Silo -c Release -o /out/silo && dotnet publish src/WebFront -c Release -o /out/webfront

FROM mcr.microsoft.com/dotnet/aspnet:10.0 AS runtime
ENV NEXUS_BIND_ADDRESS=0.0.0.0 NEXUS_DATA_DIR=/data DOTNET_CLI_TELEMETRY_OPTOUT=1
WORKDIR /app
VOLUME /data

FROM runtime AS webfront
COPY --from=build /out/webfront /app
EXPOSE 18500
ENTRYPOINT ["dotnet", "/app/AuroraNexus.WebFront.dll"]

FROM runtime AS silo
COPY --from=build /out/silo /app
EXPOSE 17500 11111 30000
ENTRYPOINT ["dotnet", "/app/AuroraNexus.Silo.dll"]
