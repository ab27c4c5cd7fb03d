#!/usr/bin/env bash
# Adds a migration NAME to both providers (SQLite and PostgreSQL), as bitwarden/server does.
# Usage: tools/ef/add-migration.sh NAME
set -euo pipefail
name=${1:?usage: tools/ef/add-migration.sh NAME}
root=$(cd "$(dirname "$0")/../.." && pwd)
feed="$root/.tools-feed"
mkdir -p "$feed"
# Empty stand-ins for two packages the registry here lacks (STACK.md); migrations never load them.
for pkg in "Mono.TextTemplating:3.0.0" "Microsoft.VisualStudio.SolutionPersistence:1.0.52"; do
  id=${pkg%%:*}; ver=${pkg##*:}
  if [ ! -f "$feed/$id.$ver.nupkg" ]; then
    dotnet pack "$root/tools/ef/placeholder/Placeholder.csproj" -p:PackageId="$id" -p:Version="$ver" \
      -o "$feed" -p:BaseIntermediateOutputPath="$feed/obj-$id/" -v q >/dev/null
  fi
done
cd "$root"
dotnet tool restore --add-source "$feed" >/dev/null
dotnet restore tools/Plumbline.Design -p:RestoreAdditionalProjectSources="$feed"
for ctx in Sqlite Postgres; do
  dotnet ef migrations add "$name" --project src/Plumbline.Data --startup-project tools/Plumbline.Design \
    --context "${ctx}DbContext" --output-dir "Migrations/$ctx"
done
