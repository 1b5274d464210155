import "@credits/server/services";
