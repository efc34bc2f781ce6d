# One image for both roles: the silo (default) and the WebFront (override the entrypoint's dll).
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src
COPY . .
RUN dotnet publish src/Silo -c Release -o /out/silo && dotnet publish src/WebFront -c Release -o /out/webfront

FROM mcr.microsoft.com/dotnet/aspnet:10.0
WORKDIR /app
COPY --from=build /out/silo /app/silo
COPY --from=build /out/webfront /app/webfront
ENV NEXUS_BIND_ADDRESS=0.0.0.0 NEXUS_DATA_DIR=/data
VOLUME /data
ENTRYPOINT ["dotnet", "/app/silo/AuroraNexus.Silo.dll"]
