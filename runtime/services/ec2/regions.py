"""EC2's view of where it runs: one region with its zones, as a new AWS account sees it."""

from __future__ import annotations

from runtime.api.context import RequestContext
from runtime.api.dispatch import operation
from runtime.services._shared.filters import matches_filters
from runtime.errors import AwsError


class RegionsProvider:
    def __init__(self, region: str, zones: tuple[str, ...]) -> None:
        self.region = region
        self.zones = zones

    @operation("DescribeRegions")
    def describe_regions(self, ctx: RequestContext, params: dict) -> dict:
        regions = [{"RegionName": self.region, "Endpoint": f"ec2.{self.region}.amazonaws.com",
                    "OptInStatus": "opt-in-not-required"}]
        wanted = params.get("RegionNames")
        if wanted:
            unknown = [n for n in wanted if n != self.region]
            if unknown:
                raise AwsError("InvalidParameterValue", f"Invalid region: {unknown[0]}")
        fields = {"region-name": lambda r: r["RegionName"], "endpoint": lambda r: r["Endpoint"],
                  "opt-in-status": lambda r: r["OptInStatus"]}
        return {"Regions": [r for r in regions if matches_filters(r, params.get("Filters"), fields)]}

    @operation("DescribeAvailabilityZones")
    def describe_availability_zones(self, ctx: RequestContext, params: dict) -> dict:
        zones = [{"ZoneName": name, "ZoneId": f"use1-az{i}" if self.region == "us-east-1" else f"{name}-id",
                  "State": "available", "RegionName": self.region, "ZoneType": "availability-zone",
                  "OptInStatus": "opt-in-not-required", "GroupName": self.region,
                  "NetworkBorderGroup": self.region, "Messages": []}
                 for i, name in enumerate(self.zones, 1)]
        names, ids = params.get("ZoneNames"), params.get("ZoneIds")
        for wanted, key in ((names, "ZoneName"), (ids, "ZoneId")):
            if wanted:
                known = {z[key] for z in zones}
                missing = [w for w in wanted if w not in known]
                if missing:
                    raise AwsError("InvalidParameterValue",
                                   f"The zone '{missing[0]}' does not exist in region {self.region}")
                zones = [z for z in zones if z[key] in wanted]
        fields = {"zone-name": lambda z: z["ZoneName"], "zone-id": lambda z: z["ZoneId"],
                  "state": lambda z: z["State"], "region-name": lambda z: z["RegionName"],
                  "zone-type": lambda z: z["ZoneType"], "group-name": lambda z: z["GroupName"]}
        return {"AvailabilityZones": [z for z in zones if matches_filters(z, params.get("Filters"), fields)]}
