# KafkaCompatBroker in a container: a single-node broker on 9092 with its data in /var/lib/kafkacompatbroker.
#   docker build -t kafkacompatbroker .
#   docker run -p 9092:9092 kafkacompatbroker
# Any broker config can be set as KAFKA_<KEY> (dots as underscores) or appended as --override key=value.
# The base images are arguments so that a local build can substitute images made without a registry.
ARG SDK_IMAGE=mcr.microsoft.com/dotnet/sdk:10.0
ARG RUNTIME_IMAGE=mcr.microsoft.com/dotnet/aspnet:10.0

FROM ${SDK_IMAGE} AS build
WORKDIR /src
COPY . .
RUN dotnet publish src/KafkaCompatBroker.Server -c Release -o /app

FROM ${RUNTIME_IMAGE}
# The broker runs as a non-root user (the official images' "app" user has this uid).
ARG APP_UID=1654
# Every codec is managed code (no native library to install).
RUN (id -u ${APP_UID} >/dev/null 2>&1 || useradd --system --uid ${APP_UID} --no-create-home kafkacompatbroker) \
    && mkdir -p /var/lib/kafkacompatbroker \
    && chown ${APP_UID} /var/lib/kafkacompatbroker
WORKDIR /app
COPY --from=build /app .
COPY config/server.properties /etc/kafkacompatbroker/server.properties
# Every interface, advertised as localhost:9092 (what `docker run -p 9092:9092` reaches) unless
# KAFKA_ADVERTISED_LISTENERS says otherwise.
ENV KAFKA_LISTENERS=PLAINTEXT://:9092 \
    KAFKA_ADVERTISED_LISTENERS=PLAINTEXT://localhost:9092 \
    KAFKA_LOG_DIRS=/var/lib/kafkacompatbroker
VOLUME /var/lib/kafkacompatbroker
EXPOSE 9092
USER ${APP_UID}
ENTRYPOINT ["dotnet", "KafkaCompatBroker.Server.dll", "/etc/kafkacompatbroker/server.properties"]
