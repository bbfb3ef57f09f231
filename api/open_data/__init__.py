"""Open data for funders' reporting, from the chain's events alone: IATI activity XML and HXL CSV."""

from api.open_data.flows import Flow, program_flows
from api.open_data.hxl import hxl_csv
from api.open_data.iati import ProgramText, Reporter, iati_activities

__all__ = ["Flow", "ProgramText", "Reporter", "hxl_csv", "iati_activities", "program_flows"]
