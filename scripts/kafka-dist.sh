#!/usr/bin/env bash
# Fetches Apache Kafka 3.7.2 (the broker, Kafka's own console and perf tools, and their
# dependencies) from Maven Central, once per machine, and prints the directory of its jars on
# stdout (progress goes to stderr):
#
#   KAFKA_LIBS=$(scripts/kafka-dist.sh)
#   java -cp "$KAFKA_LIBS/*" kafka.Kafka server.properties
#
# - Everything goes to ${XDG_CACHE_HOME:-~/.cache}/ockam-ts/kafka/<version>/ (the jars under libs/,
#   Maven's local repository beside them), never into the checkout.
# - 3.7.x because Ockam 0.139's Kafka support speaks the Kafka 3.7 message versions.
# - The artifacts are `org.apache.kafka:kafka_2.13` (the broker, KRaft, ConsoleProducer/Consumer)
#   and `org.apache.kafka:kafka-tools` (ProducerPerformance, ConsumerPerformance), with what Maven
#   resolves for them; Maven checks each download against the checksum the repository publishes.
# - Exits non-zero, saying why, when java or mvn is missing or a download fails.
set -euo pipefail
version=${KAFKA_VERSION:-3.7.2}
root=${XDG_CACHE_HOME:-$HOME/.cache}/ockam-ts/kafka/$version
libs=$root/libs

say() { echo "kafka-dist: $*" >&2; }

if [ -f "$libs/.complete" ]; then echo "$libs"; exit 0; fi
command -v java >/dev/null || { say "java is missing (OpenJDK 17 runs the broker)"; exit 1; }
command -v mvn >/dev/null || { say "mvn is missing (Maven fetches the jars)"; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat > "$work/pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.ockam-ts</groupId>
  <artifactId>kafka-dist</artifactId>
  <version>1</version>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>$version</version></dependency>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka-tools</artifactId><version>$version</version></dependency>
  </dependencies>
</project>
POM
say "fetching Kafka $version from Maven Central into $root"
rm -rf "$libs"
mkdir -p "$root"
mvn -q -B -f "$work/pom.xml" -Dmaven.repo.local="$root/m2" \
  dependency:copy-dependencies -DoutputDirectory="$libs" >&2
[ -f "$libs/kafka_2.13-$version.jar" ] || { say "kafka_2.13-$version.jar is missing after the download"; exit 1; }
touch "$libs/.complete"
echo "$libs"
